"""UUIDs of the Fitness Machine Service and the characteristics a treadmill exposes."""

from __future__ import annotations

import enum

__all__ = [
    "DEVICE_INFORMATION_SERVICE_UUID",
    "DIS_STRINGS",
    "FITNESS_MACHINE_CONTROL_POINT_UUID",
    "FITNESS_MACHINE_FEATURE_UUID",
    "FITNESS_MACHINE_SERVICE_UUID",
    "FITNESS_MACHINE_STATUS_UUID",
    "SUPPORTED_INCLINATION_RANGE_UUID",
    "SUPPORTED_SPEED_RANGE_UUID",
    "TRAINING_STATUS_UUID",
    "TREADMILL_DATA_UUID",
    "Short",
    "uuid16",
]


def uuid16(short: int) -> str:
    """A 16-bit SIG UUID expanded on the Bluetooth base UUID, lower case (bleak's form)."""
    if not 0 <= short <= 0xFFFF:
        raise ValueError(f"a 16-bit UUID is 0x0000..0xFFFF, not {short:#x}")
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


class Short(enum.IntEnum):
    """The 16-bit SIG numbers (a GATT server's view); the ``*_UUID`` strings are these."""

    FITNESS_MACHINE_SERVICE = 0x1826
    FITNESS_MACHINE_FEATURE = 0x2ACC
    TREADMILL_DATA = 0x2ACD
    TRAINING_STATUS = 0x2AD3
    SUPPORTED_SPEED_RANGE = 0x2AD4
    SUPPORTED_INCLINATION_RANGE = 0x2AD5
    FITNESS_MACHINE_CONTROL_POINT = 0x2AD9
    FITNESS_MACHINE_STATUS = 0x2ADA
    # The Device Information Service beside it (strings only).
    DEVICE_INFORMATION_SERVICE = 0x180A
    MODEL_NUMBER = 0x2A24
    SERIAL_NUMBER = 0x2A25
    FIRMWARE_REVISION = 0x2A26
    HARDWARE_REVISION = 0x2A27
    SOFTWARE_REVISION = 0x2A28
    MANUFACTURER_NAME = 0x2A29


FITNESS_MACHINE_SERVICE_UUID = uuid16(Short.FITNESS_MACHINE_SERVICE)
FITNESS_MACHINE_FEATURE_UUID = uuid16(Short.FITNESS_MACHINE_FEATURE)
TREADMILL_DATA_UUID = uuid16(Short.TREADMILL_DATA)
TRAINING_STATUS_UUID = uuid16(Short.TRAINING_STATUS)
SUPPORTED_SPEED_RANGE_UUID = uuid16(Short.SUPPORTED_SPEED_RANGE)
SUPPORTED_INCLINATION_RANGE_UUID = uuid16(Short.SUPPORTED_INCLINATION_RANGE)
FITNESS_MACHINE_CONTROL_POINT_UUID = uuid16(Short.FITNESS_MACHINE_CONTROL_POINT)
FITNESS_MACHINE_STATUS_UUID = uuid16(Short.FITNESS_MACHINE_STATUS)
DEVICE_INFORMATION_SERVICE_UUID = uuid16(Short.DEVICE_INFORMATION_SERVICE)

#: The DIS string characteristics, by the ``DeviceInformation`` field each fills.
DIS_STRINGS: dict[str, Short] = {
    "manufacturer": Short.MANUFACTURER_NAME,
    "model": Short.MODEL_NUMBER,
    "serial": Short.SERIAL_NUMBER,
    "hardware": Short.HARDWARE_REVISION,
    "firmware": Short.FIRMWARE_REVISION,
    "software": Short.SOFTWARE_REVISION,
}
