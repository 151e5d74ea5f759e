"""UUIDs of the Fitness Machine Service and the characteristics a treadmill exposes."""

from __future__ import annotations

__all__ = [
    "FITNESS_MACHINE_CONTROL_POINT_UUID",
    "FITNESS_MACHINE_FEATURE_UUID",
    "FITNESS_MACHINE_SERVICE_UUID",
    "FITNESS_MACHINE_STATUS_UUID",
    "SUPPORTED_INCLINATION_RANGE_UUID",
    "SUPPORTED_SPEED_RANGE_UUID",
    "TRAINING_STATUS_UUID",
    "TREADMILL_DATA_UUID",
    "uuid16",
]


def uuid16(short: int) -> str:
    """A 16-bit SIG UUID expanded on the Bluetooth base UUID, lower case (bleak's form)."""
    if not 0 <= short <= 0xFFFF:
        raise ValueError(f"a 16-bit UUID is 0x0000..0xFFFF, not {short:#x}")
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


FITNESS_MACHINE_SERVICE_UUID = uuid16(0x1826)
FITNESS_MACHINE_FEATURE_UUID = uuid16(0x2ACC)
TREADMILL_DATA_UUID = uuid16(0x2ACD)
TRAINING_STATUS_UUID = uuid16(0x2AD3)
SUPPORTED_SPEED_RANGE_UUID = uuid16(0x2AD4)
SUPPORTED_INCLINATION_RANGE_UUID = uuid16(0x2AD5)
FITNESS_MACHINE_CONTROL_POINT_UUID = uuid16(0x2AD9)
FITNESS_MACHINE_STATUS_UUID = uuid16(0x2ADA)
