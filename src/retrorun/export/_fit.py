"""FIT activity files, written with Garmin's own encoder (``garmin-fit-sdk``).

What a reader of FIT expects from an indoor run, and the places it is easy to get
wrong:

- ``sport`` running, ``sub_sport`` treadmill, and no position fields at all: a
  treadmill has no map, and a zero latitude would put the run in the Atlantic.
- Times are FIT timestamps (seconds since 1989-12-31 UTC); the SDK converts a
  ``datetime``, so every time here is one.
- Speed goes in ``enhanced_speed`` (and ``speed``, which older readers use) in
  m/s; distance in metres, cumulative. No cadence: an FTMS treadmill does not
  count steps (FIT's running cadence would be strides per minute).
- The incline is ``grade`` in percent.
- One lap per plan step, with ``wkt_step_index`` pointing at the step in the
  ``workout_step`` messages the file also holds (their names carry the label and,
  for backward steps, the direction). Each lap also has two developer fields,
  ``direction`` (forward, backward, turning) and ``step_label``, because FIT has
  no direction of its own.
- A pause is a timer stop and start, so ``total_timer_time`` leaves it out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from garmin_fit_sdk import FIT_EPOCH_S, Encoder

from retrorun.export._activity import Activity, Lap, Sample
from retrorun.export._common import MESG, fit_text, serial_number, software_version, workout_step

if TYPE_CHECKING:  # the SDK types its messages in a stub only
    from garmin_fit_sdk.mesgs import DeveloperDataIdMesg, FieldDescriptionMesg

__all__ = ["APPLICATION_ID", "DEVELOPER_FIELDS", "fit_activity"]

APPLICATION_ID = b"retrorun-backwrd"  # 16 bytes that name the developer fields' owner
DEVELOPER_FIELDS = {0: "direction", 1: "step_label"}
_STRING = 7  # FIT base type string


def encoder() -> tuple[Encoder, list[dict[str, Any]]]:
    """An encoder that knows retrorun's developer fields, and the messages that
    describe them (they go into the file before the first use: the encoder itself
    writes neither)."""
    data_id: DeveloperDataIdMesg = {
        "mesg_num": MESG["DEVELOPER_DATA_ID"],
        "application_id": list(APPLICATION_ID),
        "developer_data_index": 0,
        "application_version": round(software_version() * 100),
    }
    messages: list[dict[str, Any]] = [dict(data_id)]
    enc = Encoder()
    for number, name in DEVELOPER_FIELDS.items():
        description: FieldDescriptionMesg = {
            "mesg_num": MESG["FIELD_DESCRIPTION"],
            "developer_data_index": 0,
            "field_definition_number": number,
            "fit_base_type_id": _STRING,
            "field_name": name,
        }
        enc.add_developer_field(number, data_id, description)
        messages.append(dict(description))
    return enc, messages


def _at(activity: Activity, t: float) -> dt.datetime:
    return activity.started_at + dt.timedelta(seconds=round(t))


def _record(activity: Activity, sample: Sample) -> dict[str, Any]:
    speed = round(sample.speed_ms, 3)
    mesg: dict[str, Any] = {
        "mesg_num": MESG["RECORD"],
        "timestamp": _at(activity, sample.t),
        "distance": round(sample.distance_m, 2),
        "speed": speed,
        "enhanced_speed": speed,
        "grade": round(sample.incline_pct, 2),
    }
    if sample.heart_rate_bpm is not None:
        mesg["heart_rate"] = sample.heart_rate_bpm
    return mesg


def _per_second(samples: tuple[Sample, ...]) -> list[Sample]:
    """One sample per whole second of session time (the last of each second): FIT
    timestamps are whole seconds, and two records at one time confuse readers."""
    by_second: dict[int, Sample] = {}
    for sample in samples:
        by_second[round(sample.t)] = sample
    return [by_second[k] for k in sorted(by_second)]


def _speeds(mesg: dict[str, Any], avg_kmh: float, max_kmh: float) -> None:
    for field, kmh in (("avg_speed", avg_kmh), ("max_speed", max_kmh)):
        value = round(kmh / 3.6, 3)
        mesg[field] = value
        mesg[f"enhanced_{field}"] = value


def _heart(mesg: dict[str, Any], rates: list[int]) -> None:
    if rates:
        mesg["avg_heart_rate"] = round(sum(rates) / len(rates))
        mesg["max_heart_rate"] = max(rates)


def _intensity(lap: Lap) -> str:
    return "rest" if lap.step.turnaround else "active"


def _lap(activity: Activity, index: int, lap: Lap) -> dict[str, Any]:
    mesg: dict[str, Any] = {
        "mesg_num": MESG["LAP"],
        "message_index": index,
        "timestamp": _at(activity, lap.end_s),
        "event": "lap",
        "event_type": "stop",
        "start_time": _at(activity, lap.start_s),
        "total_elapsed_time": round(lap.elapsed_s, 3),
        "total_timer_time": round(lap.timer_s, 3),
        "total_distance": round(lap.distance_m, 2),
        "total_calories": round(lap.energy_kcal),
        "intensity": _intensity(lap),
        "lap_trigger": "session_end" if lap.last and not lap.completed else "time",
        "sport": "running",
        "sub_sport": "treadmill",
        "wkt_step_index": lap.step.index if lap.step.index >= 0 else index,
        "developer_fields": {0: str(lap.step.direction), 1: fit_text(lap.step.label or lap.name)},
    }
    _speeds(mesg, lap.avg_speed_kmh, lap.max_speed_kmh)
    _heart(mesg, lap.heart_rates)
    return mesg


def _workout_messages(activity: Activity) -> Iterator[dict[str, Any]]:
    """The plan as the session announced it: a ``workout`` and one ``workout_step`` per
    step, so that a lap's ``wkt_step_index`` names its step."""
    yield {
        "mesg_num": MESG["WORKOUT"],
        "wkt_name": fit_text(activity.program),
        "sport": "running",
        "sub_sport": "treadmill",
        "num_valid_steps": len(activity.steps),
    }
    for index, step in enumerate(activity.steps):
        yield workout_step(index, step, intensity="rest" if step.turnaround else "active")


def _device_infos(activity: Activity) -> Iterator[dict[str, Any]]:
    when = activity.started_at
    yield {
        "mesg_num": MESG["DEVICE_INFO"],
        "timestamp": when,
        "device_index": "creator",
        "manufacturer": "development",
        "product": 0,
        "product_name": "retrorun",
        "software_version": software_version(),
    }
    if activity.device:
        name = activity.device + (" (simulated)" if activity.simulated else "")
        yield {
            "mesg_num": MESG["DEVICE_INFO"],
            "timestamp": when,
            "device_index": 1,
            "manufacturer": "development",
            "product_name": fit_text(name),
            "descriptor": "FTMS treadmill",
            "source_type": "bluetooth_low_energy",
        }


def _timer(activity: Activity, t: float, event_type: str) -> dict[str, Any]:
    return {
        "mesg_num": MESG["EVENT"],
        "timestamp": _at(activity, t),
        "event": "timer",
        "event_type": event_type,
        "event_group": 0,
    }


def _body(activity: Activity) -> Iterator[dict[str, Any]]:
    """Records in time order, one a second (a second that ends one lap and starts the
    next is the earlier lap's), with the timer's stops and starts and each lap at its end."""
    pauses = list(activity.pauses)
    written = -1
    for index, lap in enumerate(activity.laps):
        for sample in _per_second(lap.samples):
            if round(sample.t) <= written:
                continue
            written = round(sample.t)
            while pauses and pauses[0][0] <= sample.t:
                paused, resumed = pauses.pop(0)
                yield _timer(activity, paused, "stop_all")
                if resumed < activity.duration_s:
                    yield _timer(activity, resumed, "start")
            yield _record(activity, sample)
        yield _lap(activity, index, lap)


def fit_activity(activity: Activity) -> bytes:
    """The activity as a FIT activity file."""
    enc, developer = encoder()
    start = activity.started_at
    end = _at(activity, activity.duration_s)
    enc.write_mesg(
        {
            "mesg_num": MESG["FILE_ID"],
            "type": "activity",
            "manufacturer": "development",
            "product": 0,
            "product_name": "retrorun",
            "serial_number": serial_number(activity.session or activity.program),
            "time_created": start,
        }
    )
    for mesg in developer:
        enc.write_mesg(mesg)
    for mesg in _device_infos(activity):
        enc.write_mesg(mesg)
    enc.write_mesg(
        {
            "mesg_num": MESG["SPORT"],
            "sport": "running",
            "sub_sport": "treadmill",
            "name": "Backward running",
        }
    )
    for mesg in _workout_messages(activity):
        enc.write_mesg(mesg)
    enc.write_mesg(_timer(activity, 0.0, "start"))
    for mesg in _body(activity):
        enc.write_mesg(mesg)
    enc.write_mesg(_timer(activity, activity.duration_s, "stop_all"))
    session: dict[str, Any] = {
        "mesg_num": MESG["SESSION"],
        "message_index": 0,
        "timestamp": end,
        "event": "session",
        "event_type": "stop",
        "start_time": start,
        "sport": "running",
        "sub_sport": "treadmill",
        "total_elapsed_time": round(activity.duration_s, 3),
        "total_timer_time": round(activity.timer_s, 3),
        "total_distance": round(activity.distance_m, 2),
        "total_calories": round(activity.energy_kcal),
        "first_lap_index": 0,
        "num_laps": len(activity.laps),
        "trigger": "activity_end",
    }
    _speeds(session, activity.avg_speed_kmh, activity.max_speed_kmh)
    _heart(session, activity.heart_rates)
    enc.write_mesg(session)
    offset = start.astimezone().utcoffset() or dt.timedelta(0)
    enc.write_mesg(
        {
            "mesg_num": MESG["ACTIVITY"],
            "timestamp": end,
            "total_timer_time": round(activity.timer_s, 3),
            "num_sessions": 1,
            "type": "manual",
            "event": "activity",
            "event_type": "stop",
            "local_timestamp": _local(end, offset),
        }
    )
    return bytes(enc.close())


def _local(when: dt.datetime, offset: dt.timedelta) -> int:
    """FIT's ``local_timestamp``: the FIT time shifted by the local UTC offset."""
    return int(when.timestamp() + offset.total_seconds()) - FIT_EPOCH_S
