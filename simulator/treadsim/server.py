"""The treadmill's FTMS server, sans I/O: bytes in, bytes out, physics inside.

``FtmsServer`` implements :class:`treadsim._api.GattApp`; ``treadsim.gatt`` serves
it over bumble and ``treadsim.runtime`` calls :meth:`FtmsServer.tick` on the loop
clock. Nothing here reads a clock or touches a socket: time is what ``tick`` says.

It follows FTMS v1.0 where a good machine does — Request Control first (else result
0x05), one procedure at a time (ATT 0xFE while the previous response has not been
handed to the GATT layer), indications required (ATT 0xFD), targets outside the
supported range refused (0x03), unknown op codes refused (0x02), control lost on
disconnection, a Fitness Machine Status notification for every change including
those made at the console — and misbehaves where the device profile's quirks or the
fault plan say so.

Faults fire on the clock ``tick`` passes (timed ones), on the events the server
sees (the Nth control-point write, the belt pausing or ending its run: see
:mod:`treadsim.faults`), or when a test calls :meth:`FtmsServer.inject`. The belt
may already be running at power-on (``initial_speed``), as after a controller
that was killed mid-run.

A runtime need not call ``tick`` on every step of its grid while the belt is
:meth:`FtmsServer.steady`: such a tick only advances the belt's counters, so it
may be made later, in order, at its own time, as long as it is made before the
next input. ``on_input`` is called first thing by every input from outside (a
control-point write, a connection event, a console key, an injected fault) for
that; :meth:`FtmsServer.record_due` says which tick sends the next record.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Final, TypeAlias

from retrorun.devices import DeviceProfile
from retrorun.energy import kcal_per_min
from retrorun.errors import UsageError
from retrorun.ftms import (
    DIS_STRINGS,
    KMH_PER_MPH,
    ControlOp,
    ControlRequest,
    ControlResponse,
    FitnessMachineFeature,
    FtmsError,
    InclinationRange,
    MachineFeature,
    MachineStatus,
    ResultCode,
    ServiceData,
    Short,
    SpeedRange,
    StatusOp,
    StopOrPause,
    TargetSettingFeature,
    TrainingStatus,
    TrainingStatusCode,
    TreadmillData,
    TreadmillDataFlags,
    split_record,
)
from treadsim._api import (
    ATT_CCCD_IMPROPERLY_CONFIGURED,
    ATT_PROCEDURE_ALREADY_IN_PROGRESS,
    AttError,
    Outgoing,
    Send,
)
from treadsim.faults import FAULTS, Event, Fault, FaultPlan
from treadsim.physics import Belt

__all__ = [
    "CONTROL_POINT",
    "FEATURE",
    "GARBAGE",
    "INCLINE_RANGE",
    "SPEED_RANGE",
    "STATUS",
    "TRAINING_STATUS",
    "TREADMILL_DATA",
    "FtmsServer",
    "initial_state",
]

# 16-bit characteristic UUIDs, as the GATT layer names them (see treadsim._api).
FEATURE: Final = int(Short.FITNESS_MACHINE_FEATURE)
TREADMILL_DATA: Final = int(Short.TREADMILL_DATA)
TRAINING_STATUS: Final = int(Short.TRAINING_STATUS)
SPEED_RANGE: Final = int(Short.SUPPORTED_SPEED_RANGE)
INCLINE_RANGE: Final = int(Short.SUPPORTED_INCLINATION_RANGE)
CONTROL_POINT: Final = int(Short.FITNESS_MACHINE_CONTROL_POINT)
STATUS: Final = int(Short.FITNESS_MACHINE_STATUS)

DEFAULT_MTU: Final = 23
#: Where a ``truncated_records`` machine cuts every Treadmill Data notification: the
#: payload of the default ATT MTU, whatever MTU the connection has.
TRUNCATE_AT: Final = 20
#: The ``garbage`` fault's notification: flags announce speed and total distance
#: (5 bytes) but only 1 byte follows, so any decoder must reject it.
GARBAGE: Final = bytes([0x04, 0x00, 0x10])
_ATT_INVALID_ATTRIBUTE_LENGTH: Final = 0x0D
_REBOOT_SILENCE_S: Final = 2.0

_SUPPORTED_OPS: Final = frozenset(
    {
        ControlOp.REQUEST_CONTROL,
        ControlOp.RESET,
        ControlOp.SET_TARGET_SPEED,
        ControlOp.SET_TARGET_INCLINATION,
        ControlOp.START_OR_RESUME,
        ControlOp.STOP_OR_PAUSE,
        ControlOp.SET_TARGETED_DISTANCE,
        ControlOp.SET_TARGETED_TRAINING_TIME,
    }
)

_Handler: TypeAlias = Callable[[tuple[int, ...]], tuple[int, list[MachineStatus]]]


def initial_state(
    profile: DeviceProfile, *, speed_kmh: float = 0.0, incline_pct: float | None = None
) -> tuple[int, int]:
    """The raw (speed, incline) of a belt at power-on, for :class:`FtmsServer`:
    ``speed_kmh`` 0 (stopped) or within the model's range, ``incline_pct`` within
    its incline range (None: the lowest the deck goes). A value out of range
    raises a one-line ``UsageError``."""
    low, high, _step = profile.speed.raw
    speed = round(speed_kmh * 100) if math.isfinite(speed_kmh) else -1
    if speed != 0 and not low <= speed <= high:
        raise UsageError(
            f"initial speed {speed_kmh:g} km/h: {profile.name!r} runs from "
            f"{low / 100:g} to {high / 100:g} km/h (or 0: stopped)"
        )
    low, high, _step = profile.incline.raw
    if incline_pct is None:
        return speed, max(low, min(0, high))
    incline = round(incline_pct * 10) if math.isfinite(incline_pct) else low - 1
    if not low <= incline <= high:
        raise UsageError(
            f"initial incline {incline_pct:g} %: {profile.name!r} inclines from "
            f"{low / 10:g} to {high / 10:g} %"
        )
    return speed, incline


class FtmsServer:
    """A simulated FTMS treadmill (see the module docstring).

    ``initial_speed`` (0.01 km/h; 0: stopped) and ``initial_incline`` (0.1 %): the
    belt at power-on, already running at that speed and inclined at that incline,
    with no controller (``ValueError`` out of the model's ranges; see
    :func:`initial_state`). ``writes`` counts the control-point writes received.
    """

    def __init__(
        self,
        profile: DeviceProfile,
        *,
        faults: FaultPlan | None = None,
        weight_kg: float = 70.0,
        initial_speed: int = 0,
        initial_incline: int | None = None,
        strict: bool = False,
    ) -> None:
        self.profile = profile
        self.strict = strict
        self._after_reset = False  # Training Status reads Idle from a Reset to the next start
        self._training: int | None = None  # the last Training Status notified
        self.faults = faults if faults is not None else FaultPlan()
        self.weight_kg = weight_kg
        self.belt = self._new_belt()
        self._power_on(initial_speed, initial_incline)
        self.is_connected = False
        self.controlled = False
        self.mtu = DEFAULT_MTU
        self.targeted_distance: int | None = None
        self.targeted_time: int | None = None
        self.writes = 0
        self._queue: list[Outgoing] = []
        self._response_pending = False
        self._last_tick: float | None = None
        self._now = 0.0  # the latest time tick or inject was given
        self._next_notify: float | None = None
        self._silent_until = float("-inf")
        # What _observe last saw of the belt, and how often each event happened.
        self._was_paused = self.belt.paused
        self._ran = self.belt.running
        self._pauses = 0
        self._stops = 0
        # The heart-rate strap beside the treadmill takes the ``hr-*`` faults of the
        # same plan (one timeline, the same triggers); without one they do nothing.
        self.on_hr_fault: Callable[[Fault, float], None] | None = None
        # Called before every input from outside (see the module docstring).
        self.on_input: Callable[[], None] | None = None

    def _input(self) -> None:
        if self.on_input is not None:
            self.on_input()

    def _power_on(self, speed: int, incline: int | None) -> None:
        low, high, _step = self.profile.speed.raw
        if speed != 0 and not low <= speed <= high:
            raise ValueError(f"initial speed {speed} is outside {low}..{high} (0.01 km/h)")
        low, high, _step = self.profile.incline.raw
        if incline is None:
            incline = max(low, min(0, high))  # the deck's lowest, flat where it can be
        if not low <= incline <= high:
            raise ValueError(f"initial incline {incline} is outside {low}..{high} (0.1 %)")
        belt = self.belt
        if speed:
            belt.running = True
            belt.target = speed
            belt.speed = float(speed)
        belt.target_incline = incline
        belt.incline = float(incline)

    def _new_belt(self) -> Belt:
        belt = Belt.for_profile(self.profile, accel=self.faults.arg("slow-ramp"))
        belt.weight_kg = self.weight_kg
        return belt

    # -- what the model is -------------------------------------------------------------

    @property
    def has_incline(self) -> bool:
        return self.profile.incline.max_pct > self.profile.incline.min_pct

    def _features(self) -> FitnessMachineFeature:
        machine = (
            MachineFeature.AVERAGE_SPEED
            | MachineFeature.TOTAL_DISTANCE
            | MachineFeature.EXPENDED_ENERGY
            | MachineFeature.HEART_RATE_MEASUREMENT
            | MachineFeature.ELAPSED_TIME
        )
        target = (
            TargetSettingFeature.SPEED
            | TargetSettingFeature.DISTANCE
            | TargetSettingFeature.TRAINING_TIME
        )
        if self.has_incline:
            machine |= MachineFeature.INCLINATION
            target |= TargetSettingFeature.INCLINATION
        if self.profile.has("step_count_bit13"):
            machine |= MachineFeature.STEP_COUNT
        return FitnessMachineFeature(machine, target)

    def _zero_ranges(self) -> bool:
        return self.profile.has("zero_ranges") or self.faults.has("zero-ranges")

    # -- GattApp -----------------------------------------------------------------------

    @property
    def advertised_name(self) -> str:
        return self.profile.name

    def service_data(self) -> bytes:
        return bytes(ServiceData())

    def device_information(self) -> Mapping[int, bytes]:
        """The model's DIS strings as its profile names them; a profile that names
        none is served as this simulator (manufacturer "treadsim", model: its name)."""
        info = self.profile.device_information
        strings = {
            "manufacturer": info.manufacturer or "treadsim",
            "model": info.model or self.profile.name,
            "firmware": info.firmware or "treadsim",
        }
        return {int(DIS_STRINGS[key]): value.encode() for key, value in strings.items()}

    def read(self, uuid: int) -> bytes:
        if uuid == FEATURE:
            return bytes(self._features())
        if uuid == SPEED_RANGE:
            if self._zero_ranges():
                return bytes(SpeedRange(0, 0, 0))
            return bytes(SpeedRange(*self.profile.speed.raw))
        if uuid == INCLINE_RANGE:
            if self._zero_ranges():
                return bytes(InclinationRange(0, 0, 0))
            return bytes(InclinationRange(*self.profile.incline.raw))
        if uuid == TRAINING_STATUS:
            return bytes(TrainingStatus(status=self._training_status()))
        return b""

    def _training_status(self) -> int:
        if self.belt.running:
            self._after_reset = False
            return TrainingStatusCode.MANUAL_MODE
        if self._after_reset:
            return TrainingStatusCode.IDLE
        if self.belt.paused or self.belt.moving:
            return TrainingStatusCode.POST_WORKOUT
        return TrainingStatusCode.IDLE

    def set_mtu(self, mtu: int) -> None:
        self.mtu = max(DEFAULT_MTU, mtu)

    def connected(self) -> None:
        self._input()
        self.is_connected = True
        self.controlled = False
        self.mtu = DEFAULT_MTU
        self._response_pending = False

    def disconnected(self) -> None:
        """The link is gone: control is lost; the belt keeps doing what it did."""
        self._input()
        self.is_connected = False
        self.controlled = False
        self._response_pending = False
        self._queue.clear()

    def drain(self) -> Sequence[Outgoing]:
        out, self._queue = self._queue, []
        self._response_pending = False
        return out

    # -- the control point -------------------------------------------------------------

    def write_control_point(self, data: bytes, *, indications_enabled: bool) -> None:
        # Faults waiting for this write fire before anything answers it; if one
        # takes the link down, the write is lost with it: never performed or answered.
        self._input()
        self.writes += 1
        was_connected = self.is_connected
        for fault in self.faults.trigger("write", self.writes, self._now):
            self._fire(fault, self._now)
        if was_connected and not self.is_connected:
            return
        if not indications_enabled:
            raise AttError(ATT_CCCD_IMPROPERLY_CONFIGURED, "enable indications first")
        if self._response_pending:
            raise AttError(ATT_PROCEDURE_ALREADY_IN_PROGRESS, "previous procedure in progress")
        if not data:
            raise AttError(_ATT_INVALID_ATTRIBUTE_LENGTH, "empty control point write")
        if data[0] not in _SUPPORTED_OPS:
            self._respond(data[0], ResultCode.OP_CODE_NOT_SUPPORTED)
            return
        try:
            request = ControlRequest.from_bytes(data)
        except (FtmsError, ValueError):
            # A known op code with a parameter too short for it.
            self._respond(data[0], ResultCode.INVALID_PARAMETER)
            return
        result, statuses = self._handle(request)
        self._respond(request.op, result)
        for status in statuses:
            self._status(status)
        self._observe()

    def _respond(self, op: int, result: int) -> None:
        response = ControlResponse(op, result)
        self._queue.append(Outgoing(CONTROL_POINT, bytes(response), Send.INDICATE))
        self._response_pending = True

    def _status(self, status: MachineStatus) -> None:
        if self.is_connected:
            self._queue.append(Outgoing(STATUS, bytes(status)))

    def _needs_control(self) -> bool:
        """Whether procedures need Request Control first (not on machines refusing it)."""
        return not (
            self.profile.has("rejects_request_control") and not self.faults.has("reject-control")
        )

    def _handle(self, request: ControlRequest) -> tuple[int, list[MachineStatus]]:
        op = request.op
        if op == ControlOp.REQUEST_CONTROL:
            if self.faults.has("reject-control"):
                return ResultCode.CONTROL_NOT_PERMITTED, []
            if self.profile.has("rejects_request_control"):
                return ResultCode.OP_CODE_NOT_SUPPORTED, []
            self.controlled = True
            return ResultCode.SUCCESS, []
        handlers: dict[int, _Handler] = {
            ControlOp.RESET: self._reset,
            ControlOp.SET_TARGET_SPEED: self._set_speed,
            ControlOp.SET_TARGET_INCLINATION: self._set_incline,
            ControlOp.START_OR_RESUME: self._start,
            ControlOp.STOP_OR_PAUSE: self._stop_or_pause,
            ControlOp.SET_TARGETED_DISTANCE: self._set_distance,
            ControlOp.SET_TARGETED_TRAINING_TIME: self._set_time,
        }
        handler = handlers.get(op)
        if handler is None:
            return ResultCode.OP_CODE_NOT_SUPPORTED, []
        if not self.controlled and self._needs_control():
            return ResultCode.CONTROL_NOT_PERMITTED, []
        return handler(request.values)

    def _reset(self, _values: tuple[int, ...]) -> tuple[int, list[MachineStatus]]:
        # FTMS 4.16.2.2: back to the state after power-on: belt stopped, elapsed time
        # and distance zeroed, Training Status Idle, control released.
        self.belt.stop()
        self.belt.target_incline = 0
        self.belt.distance_m = 0.0
        self.belt.elapsed_s = 0.0
        self.belt.energy_kcal = 0.0
        self.belt.steps = 0.0
        self.targeted_distance = self.targeted_time = None
        self.controlled = False
        self._after_reset = True
        return ResultCode.SUCCESS, [MachineStatus(StatusOp.RESET)]

    def _set_speed(self, values: tuple[int, ...]) -> tuple[int, list[MachineStatus]]:
        (sent,) = values
        raw = round(sent * KMH_PER_MPH) if self.profile.has("speed_in_mph") else sent
        low, high, _step = self.profile.speed.raw
        if not low <= raw <= high:
            return ResultCode.INVALID_PARAMETER, []
        if self.profile.has("needs_start_before_speed") and not self.belt.running:
            return ResultCode.OPERATION_FAILED, []
        if self.profile.has("ignores_speed_commands") or self.faults.has("ignore-speed"):
            return ResultCode.SUCCESS, []
        # A stopped belt starts toward the target; the status is the speed change only
        # (a Started status would read as someone pressing start at the console).
        self.belt.set_target(raw)
        return ResultCode.SUCCESS, [MachineStatus(StatusOp.TARGET_SPEED_CHANGED, (sent,))]

    def _set_incline(self, values: tuple[int, ...]) -> tuple[int, list[MachineStatus]]:
        (raw,) = values
        # A flat deck (range 0..0) accepts 0 and refuses anything else, as real ones do.
        low, high, _step = self.profile.incline.raw
        if not low <= raw <= high:
            return ResultCode.INVALID_PARAMETER, []
        self.belt.target_incline = raw
        return ResultCode.SUCCESS, [MachineStatus(StatusOp.TARGET_INCLINE_CHANGED, (raw,))]

    def _start(self, _values: tuple[int, ...]) -> tuple[int, list[MachineStatus]]:
        if self.strict and self.belt.running:
            # "Already started" is the spec's own example of Operation Failed.
            return ResultCode.OPERATION_FAILED, []
        self.belt.start()
        return ResultCode.SUCCESS, [MachineStatus(StatusOp.STARTED_OR_RESUMED_BY_USER)]

    def _stop_or_pause(self, values: tuple[int, ...]) -> tuple[int, list[MachineStatus]]:
        (control,) = values
        if (
            self.strict
            and not self.belt.running
            and (control == StopOrPause.PAUSE or not self.belt.paused)
        ):
            # "Already stopped" (or nothing to pause): Operation Failed, as the spec allows.
            return ResultCode.OPERATION_FAILED, []
        if control == StopOrPause.STOP:
            self.belt.stop()
        elif control == StopOrPause.PAUSE:
            self.belt.pause()
        else:
            return ResultCode.INVALID_PARAMETER, []
        return ResultCode.SUCCESS, [MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (control,))]

    def _set_distance(self, values: tuple[int, ...]) -> tuple[int, list[MachineStatus]]:
        (self.targeted_distance,) = values
        return ResultCode.SUCCESS, [MachineStatus(StatusOp.TARGETED_DISTANCE_CHANGED, values)]

    def _set_time(self, values: tuple[int, ...]) -> tuple[int, list[MachineStatus]]:
        (self.targeted_time,) = values
        return ResultCode.SUCCESS, [MachineStatus(StatusOp.TARGETED_TRAINING_TIME_CHANGED, values)]

    # -- the console: what a person at the machine can press ---------------------------

    def _target_status(self) -> MachineStatus:
        """Target speed changed, in the unit this model's control point speaks."""
        value = self.belt.target
        if self.profile.has("speed_in_mph"):
            value = round(value / KMH_PER_MPH)
        return MachineStatus(StatusOp.TARGET_SPEED_CHANGED, (value,))

    def console_speed(self, value: int, *, absolute: bool = False) -> None:
        """The speed buttons: ``value`` 0.01 km/h up (or down, if negative), or the
        speed itself with ``absolute``. Clamped to the model's range; a stopped belt
        starts. Each change sends its status notification(s)."""
        self._input()
        low, high, _step = self.profile.speed.raw
        base = self.belt.target if self.belt.running else 0
        raw = value if absolute else base + value
        raw = min(max(raw, low), high)
        was_running = self.belt.running
        if was_running and raw == self.belt.target:
            return
        self.belt.set_target(raw)
        if not was_running:
            self._status(MachineStatus(StatusOp.STARTED_OR_RESUMED_BY_USER))
        self._status(self._target_status())
        self._observe()

    def console_incline(self, value: int, *, absolute: bool = False) -> None:
        """The incline buttons: ``value`` 0.1 % up (or down, if negative), or the
        incline itself with ``absolute``. Clamped to the model's range; the deck
        moves at its own rate. A change sends Target Incline Changed."""
        self._input()
        low, high, _step = self.profile.incline.raw
        raw = value if absolute else self.belt.target_incline + value
        raw = min(max(raw, low), high)
        if raw == self.belt.target_incline:
            return
        self.belt.target_incline = raw
        self._status(MachineStatus(StatusOp.TARGET_INCLINE_CHANGED, (raw,)))

    def console_stop(self) -> None:
        """The stop button."""
        self._input()
        self.belt.stop()
        self._status(MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (StopOrPause.STOP,)))
        self._observe()

    def console_pause(self) -> None:
        """The pause button: the belt comes to rest and keeps its target."""
        self._input()
        self.belt.pause()
        self._status(MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (StopOrPause.PAUSE,)))
        self._observe()

    def console_start(self) -> None:
        """The start button: start, or resume at the paused target."""
        self._input()
        self.belt.start()
        self._status(MachineStatus(StatusOp.STARTED_OR_RESUMED_BY_USER))
        self._observe()

    def safety_key(self) -> None:
        """The safety key is pulled: the motor is cut and the belt is at rest at once."""
        self._input()
        self.belt.halt()
        self._status(MachineStatus(StatusOp.STOPPED_BY_SAFETY_KEY))
        self._observe()

    # -- events: what faults can wait for ----------------------------------------------

    def _observe(self) -> None:
        """Notice the belt's own changes of state since last time, and fire the faults
        waiting for them: ``paused`` when its paused state becomes true, ``stopped``
        when a belt that ran is neither running nor paused any more."""
        belt = self.belt
        events: list[tuple[Event, int]] = []
        if belt.paused and not self._was_paused:
            self._pauses += 1
            events.append(("paused", self._pauses))
        self._was_paused = belt.paused
        if belt.running:
            self._ran = True
        elif self._ran and not belt.paused:
            self._ran = False
            self._stops += 1
            events.append(("stopped", self._stops))
        for event, nth in events:
            for fault in self.faults.trigger(event, nth, self._now):
                self._fire(fault, self._now)

    # -- time --------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Advance to ``now`` (loop seconds since power-on): faults, physics, telemetry."""
        last = self._last_tick if self._last_tick is not None else now
        self._last_tick = self._now = now
        self._observe()
        for fault in self.faults.due(now):
            self._fire(fault, now)
        self.belt.step(now - last)
        self._notify_training_status()
        period = self.profile.notify_period_s
        if self._next_notify is None:
            self._next_notify = now
        if self.record_due(now, last):
            # Keep the cadence on the grid; after a long gap, restart it from now.
            self._next_notify += period
            if self._next_notify <= now:
                self._next_notify = now + period
            if self.is_connected and now >= self._silent_until:
                self._notify_data()

    def record_due(self, now: float, last: float) -> bool:
        """Whether a tick at ``now`` after one at ``last`` sends the next record (or
        would, connected): the first tick, then one every ``notify_period_s``."""
        if self._next_notify is None:
            return True
        # Half a tick of slack: a tick that wakes a little earlier than the first one
        # did (the grid's anchor) still sends its record, not one tick late.
        return now + max((now - last) / 2, 1e-9) >= self._next_notify

    def steady(self) -> bool:
        """Whether the next ticks, until the next record and without an input, would
        only advance the belt's counters (distance, time, energy, steps, heart rate):
        the belt and the deck at their targets, nothing queued, and no fault of the
        plan still to fire (a timed, delayed or awaited one: faults are rare, and a
        run with one keeps every tick). Training Status cannot change in such ticks:
        it follows running, paused and moving, which only an input, a fault or a
        change of speed changes."""
        belt = self.belt
        goal = float(belt.target) if belt.running else 0.0
        return (
            self._last_tick is not None
            and belt.speed == goal
            and belt.incline == float(belt.target_incline)
            and not self._queue
            and not self.faults.pending()
        )

    @property
    def has_output(self) -> bool:
        """Whether something waits for :meth:`drain`."""
        return bool(self._queue)

    @property
    def last_tick(self) -> float | None:
        """The time the last ``tick`` was given (None before the first)."""
        return self._last_tick

    def inject(self, fault: Fault, now: float) -> None:
        """Fire an event fault right away, whatever its ``@`` says, as if its time had
        come at ``now`` (seconds since power-on, no earlier than the last tick).
        ``ValueError`` for a standing fault (those are set at power-on) or an unknown one."""
        kind = FAULTS.get(fault.name)
        if kind is None or not kind.timed:
            raise ValueError(f"{fault.name!r} is not an event fault; it cannot be injected")
        self._input()
        self._now = now
        self._fire(fault, now)

    def _fire(self, fault: Fault, now: float) -> None:
        self._fire_one(fault, now)
        self._observe()

    def _fire_one(self, fault: Fault, now: float) -> None:
        name, arg = fault.name, fault.arg or 0.0
        if name == "console-speedup":
            # The worst case of a console change: the belt is at KMH at once (the
            # keyboard's console_speed ramps like any speed change).
            self.console_speed(round(arg * 100), absolute=True)
            self.belt.speed = float(self.belt.target)
        elif name == "console-incline":
            self.console_incline(round(arg * 10), absolute=True)
        elif name == "console-stop":
            self.console_stop()
        elif name == "console-pause":
            self.console_pause()
        elif name == "console-start":
            self.console_start()
        elif name == "safety-key":
            self.safety_key()
        elif name == "drop-link":
            self._drop_link()
        elif name == "stall":
            self._silent_until = max(self._silent_until, now + arg)
        elif name == "spurious-speed":
            # The firmware jumps to a speed by itself, with no status notification.
            self.belt.set_target(round(arg * 100))
            self.belt.speed = float(self.belt.target)
        elif name == "reboot":
            self._drop_link()
            self.belt = self._new_belt()
            self.targeted_distance = self.targeted_time = None
            self._silent_until = max(self._silent_until, now + _REBOOT_SILENCE_S)
        elif name.startswith("hr-") and self.on_hr_fault is not None:
            self.on_hr_fault(fault, now)
        elif name == "garbage" and self.is_connected:
            self._queue.append(Outgoing(TREADMILL_DATA, GARBAGE))

    def _notify_training_status(self) -> None:
        """Training Status is Read and Notify (FTMS 4.10): every change is notified."""
        status = self._training_status()
        if status == self._training:
            return
        self._training = status
        if self.is_connected:
            self._queue.append(Outgoing(TRAINING_STATUS, bytes(TrainingStatus(status=status))))

    def _drop_link(self) -> None:
        if self.is_connected:
            self._queue.append(Outgoing(0, b"", Send.DISCONNECT))
        self.is_connected = False
        self.controlled = False

    # -- telemetry ---------------------------------------------------------------------

    def record(self) -> TreadmillData:
        """The whole Treadmill Data record the machine would send now."""
        belt = self.belt
        kmh = belt.speed / 100
        per_min = 0.0
        if belt.moving:
            per_min = kcal_per_min(kmh, belt.incline / 10, belt.weight_kg, backward=False)
        matrix = self.profile.has("truncated_records")
        return TreadmillData(
            speed=belt.speed_raw,
            average_speed=belt.average_speed_raw,
            total_distance=min(round(belt.distance_m), 0xFFFFFF),
            inclination=belt.incline_raw if self.has_incline else None,
            ramp_angle=None,
            total_energy=min(round(belt.energy_kcal), 0xFFFE),
            energy_per_hour=min(round(per_min * 60), 0xFFFE),
            energy_per_minute=min(round(per_min), 0xFE),
            heart_rate=min(round(belt.heart_rate), 0xFF),
            elapsed_time=min(round(belt.elapsed_s), 0xFFFF),
            step_count=min(round(belt.steps), 0xFFFFFF)
            if self.profile.has("step_count_bit13")
            else None,
            # A truncating console announces every group but the paces (flags 0x1F9E),
            # most of which its 20 bytes never carry.
            elevation_gain=0 if matrix else None,
            metabolic_equivalent=min(round(per_min * 600 / belt.weight_kg), 0xFF)
            if matrix
            else None,
            remaining_time=0 if matrix else None,
            flags=TreadmillDataFlags.FORCE_AND_POWER | TreadmillDataFlags.INCLINATION
            if matrix
            else 0,
        )

    def data_payloads(self) -> list[bytes]:
        """The notifications one record travels in at the current MTU (and quirks)."""
        record = self.record()
        whole = bytes(record)
        if self.profile.has("truncated_records"):
            return [whole[:TRUNCATE_AT]]
        limit = self.mtu - 3
        if self.profile.has("split_records"):
            limit = min(limit, len(whole) - 1)
        if len(whole) <= limit:
            return [whole]
        try:
            return split_record(record, limit)
        except FtmsError:
            return [whole]  # too small to cut (a quirky split of a tiny record)

    def _notify_data(self) -> None:
        self._queue.extend(Outgoing(TREADMILL_DATA, p) for p in self.data_payloads())

    def state_dict(self, now: float) -> dict[str, float | bool]:
        """One line of the state log: what the belt really did (``paused``: the belt's
        own paused state; ``writes``: control-point writes received so far)."""
        belt = self.belt
        return {
            "t": round(now, 3),
            "belt_kmh": round(belt.speed / 100, 3),
            "target_kmh": belt.target / 100 if belt.running else 0.0,
            "incline_pct": round(belt.incline / 10, 2),
            "running": belt.running,
            "connected": self.is_connected,
            "controlled": self.controlled,
            "paused": belt.paused,
            "writes": self.writes,
        }
