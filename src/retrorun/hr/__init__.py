"""Heart rate from a Bluetooth strap or band (Heart Rate Service, 0x180D).

The codec (``HeartRateMeasurement``, 0x2A37) is pure, like ``retrorun.ftms``; the
client (``HeartRateStrap``) keeps the newest reading of one sensor on the same
bleak link as the treadmill. What a reading *means* for the belt (over the
maximum, stale, off the skin, stuck) is the governor's to judge.
"""

from __future__ import annotations

from retrorun.hr._codec import (
    HEART_RATE_MEASUREMENT_UUID,
    HEART_RATE_SERVICE_UUID,
    HeartRateDecodeError,
    HeartRateFlags,
    HeartRateMeasurement,
)
from retrorun.hr._strap import (
    FoundStrap,
    HeartRateSample,
    HeartRateStrap,
    find_strap,
    scan_straps,
)

__all__ = [
    "HEART_RATE_MEASUREMENT_UUID",
    "HEART_RATE_SERVICE_UUID",
    "FoundStrap",
    "HeartRateDecodeError",
    "HeartRateFlags",
    "HeartRateMeasurement",
    "HeartRateSample",
    "HeartRateStrap",
    "find_strap",
    "scan_straps",
]
