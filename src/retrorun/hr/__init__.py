"""Heart rate from a Bluetooth strap or band (Heart Rate Service, 0x180D).

The codec (``HeartRateMeasurement``, 0x2A37) is pure, like ``retrorun.ftms``; the
client (``HeartRateStrap``) keeps the newest reading of one sensor on the same
bleak link as the treadmill. What a reading *means* for the belt (over the
maximum, stale, off the skin, stuck) is the governor's to judge.

``prescribe`` settles a session's heart-rate figures before the belt moves (the
maximum: ``--max-hr``, then a measured ``max_hr`` in ``runner.toml``, then Tanaka
from ``--age``; the limit the governor holds; every heart-rate step's zone in bpm);
``HeartRateGuide`` holds those zones by speed during the session, one slow
``ZoneController`` per step, every target still going through the governor.
"""

from __future__ import annotations

from retrorun.hr._codec import (
    HEART_RATE_MEASUREMENT_UUID,
    HEART_RATE_SERVICE_UUID,
    HeartRateDecodeError,
    HeartRateFlags,
    HeartRateMeasurement,
)
from retrorun.hr._prescription import (
    PROFILE_RESERVE_PCT,
    RESTING_HR_BPM,
    RUNNER_FILE,
    HeartRatePrescription,
    RunnerSettings,
    Zone,
    heart_rate_limit,
    load_runner_settings,
    maximum_heart_rate,
    prescribe,
    runner_settings_path,
    tanaka,
)
from retrorun.hr._strap import (
    FoundStrap,
    HeartRateSample,
    HeartRateStrap,
    find_strap,
    scan_straps,
)
from retrorun.hr._zone import (
    GAIN,
    SMOOTH_S,
    ZONE_INTERVAL_S,
    HeartRateGuide,
    ZoneChange,
    ZoneController,
)

__all__ = [
    "GAIN",
    "HEART_RATE_MEASUREMENT_UUID",
    "HEART_RATE_SERVICE_UUID",
    "PROFILE_RESERVE_PCT",
    "RESTING_HR_BPM",
    "RUNNER_FILE",
    "SMOOTH_S",
    "ZONE_INTERVAL_S",
    "FoundStrap",
    "HeartRateDecodeError",
    "HeartRateFlags",
    "HeartRateGuide",
    "HeartRateMeasurement",
    "HeartRatePrescription",
    "HeartRateSample",
    "HeartRateStrap",
    "RunnerSettings",
    "Zone",
    "ZoneChange",
    "ZoneController",
    "find_strap",
    "heart_rate_limit",
    "load_runner_settings",
    "maximum_heart_rate",
    "prescribe",
    "runner_settings_path",
    "scan_straps",
    "tanaka",
]
