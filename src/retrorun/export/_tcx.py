"""TCX (Training Center XML) activity files, written with lxml.

The document follows Garmin's ``TrainingCenterDatabase/v2`` schema: Sport
``Running``, one ``Lap`` per plan step (time, distance, calories, intensity,
trigger, heart rate when known, the step's name in ``Notes``) and a ``Track`` of
trackpoints without ``Position`` (a treadmill has no map). Speed lives in the
standard ``ActivityExtension/v2`` namespace (``TPX/Speed`` per trackpoint,
``LX/AvgSpeed`` per lap), which the schema admits through its lax ``Extensions``.

Some readers drop trackpoints without a position unless told otherwise; the
laps' totals still carry the session.
"""

from __future__ import annotations

import datetime as dt
import re

from lxml import etree

from retrorun import __version__
from retrorun.export._activity import Activity, Lap, Sample

__all__ = ["ACTIVITY_EXTENSION", "TCX", "tcx_activity"]

TCX = "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
ACTIVITY_EXTENSION = "http://www.garmin.com/xmlschemas/ActivityExtension/v2"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_NSMAP = {None: TCX, "ns3": ACTIVITY_EXTENSION, "xsi": XSI}


# XML 1.0 has no place for most control characters: a hand-edited record may hold them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(text: str) -> str:
    """``text`` with what XML cannot hold replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def _time(when: dt.datetime) -> str:
    """``2026-11-28T04:52:22Z`` (milliseconds when there are any)."""
    utc = when.astimezone(dt.UTC)
    spec = "milliseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{TCX}}}{tag}")
    if text is not None:
        element.text = _text(text)
    return element


def _ext(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ACTIVITY_EXTENSION}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _heart(parent: etree._Element, tag: str, bpm: int) -> None:
    _sub(_sub(parent, tag), "Value", str(bpm))


def _trackpoint(track: etree._Element, activity: Activity, sample: Sample) -> None:
    point = _sub(track, "Trackpoint")
    _sub(point, "Time", _time(activity.started_at + dt.timedelta(seconds=sample.t)))
    _sub(point, "DistanceMeters", _number(sample.distance_m))
    if sample.heart_rate_bpm is not None:
        _heart(point, "HeartRateBpm", sample.heart_rate_bpm)
    tpx = _ext(_sub(point, "Extensions"), "TPX")
    _ext(tpx, "Speed", _number(sample.speed_ms))


def _lap(parent: etree._Element, activity: Activity, lap: Lap) -> None:
    element = _sub(parent, "Lap")
    element.set("StartTime", _time(activity.started_at + dt.timedelta(seconds=lap.start_s)))
    _sub(element, "TotalTimeSeconds", _number(lap.timer_s))
    _sub(element, "DistanceMeters", _number(lap.distance_m))
    _sub(element, "MaximumSpeed", _number(lap.max_speed_kmh / 3.6))
    _sub(element, "Calories", str(min(round(lap.energy_kcal), 65535)))
    rates = lap.heart_rates
    if rates:
        _heart(element, "AverageHeartRateBpm", round(sum(rates) / len(rates)))
        _heart(element, "MaximumHeartRateBpm", max(rates))
    _sub(element, "Intensity", "Resting" if lap.step.turnaround else "Active")
    _sub(element, "TriggerMethod", "Manual" if lap.last and not lap.completed else "Time")
    if lap.samples:
        track = _sub(element, "Track")
        for sample in lap.samples:
            _trackpoint(track, activity, sample)
    _sub(element, "Notes", f"{lap.name} (facing {lap.step.direction})")
    lx = _ext(_sub(element, "Extensions"), "LX")
    _ext(lx, "AvgSpeed", _number(lap.avg_speed_kmh / 3.6))


def _notes(activity: Activity) -> str:
    backward = activity.backward_laps
    seconds = sum(lap.timer_s for lap in backward)
    plural = "s" if len(backward) != 1 else ""
    laps = f"{len(backward)} backward lap{plural} ({seconds:.0f} s)"
    words = [f"retrorun: {activity.program}, {laps}"]
    if activity.reason:
        words.append(f"ended: {activity.reason.replace('_', ' ')}")
    if activity.partial:
        words.append("partial record: " + "; ".join(activity.problems))
    return ". ".join(words) + "."


def _creator(parent: etree._Element, activity: Activity) -> None:
    creator = _sub(parent, "Creator")
    creator.set(f"{{{XSI}}}type", "Device_t")
    name = "retrorun" + (f" with {activity.device}" if activity.device else "")
    _sub(creator, "Name", name)
    _sub(creator, "UnitId", "0")
    _sub(creator, "ProductID", "0")
    version = _sub(creator, "Version")
    parts = [*__version__.split("."), "0", "0"]
    for tag, part in zip(("VersionMajor", "VersionMinor"), parts, strict=False):
        _sub(version, tag, part if part.isdigit() else "0")


def tcx_activity(activity: Activity) -> bytes:
    """The activity as a TCX document (UTF-8, with an XML declaration)."""
    root = etree.Element(f"{{{TCX}}}TrainingCenterDatabase", nsmap=_NSMAP)
    element = _sub(_sub(root, "Activities"), "Activity")
    element.set("Sport", "Running")
    _sub(element, "Id", _time(activity.started_at))
    for lap in activity.laps:
        _lap(element, activity, lap)
    _sub(element, "Notes", _notes(activity))
    _creator(element, activity)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
