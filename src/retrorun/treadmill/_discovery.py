"""Finding a treadmill: every FTMS treadmill advertising, or the one a person named.

A treadmill is a device whose FTMS service data says so, or (some machines send no
service data) one that advertises the FTMS service. A name given on the command
line matches an address, a whole name, or a prefix only one name starts with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from retrorun.ble import BLUETOOTH_ERRORS, link_error
from retrorun.devices import DeviceProfile, match_device_profile
from retrorun.errors import DeviceNotFoundError
from retrorun.ftms import FITNESS_MACHINE_SERVICE_UUID, FtmsDecodeError, ServiceData

__all__ = ["FoundTreadmill", "find_treadmill", "scan_treadmills"]


@dataclass(frozen=True, slots=True)
class FoundTreadmill:
    """A treadmill seen advertising FTMS."""

    device: BLEDevice
    name: str
    address: str
    rssi: int | None
    machine_types: tuple[str, ...]
    profile: DeviceProfile


_FTMS = FITNESS_MACHINE_SERVICE_UUID.lower()


def _service_data(adv: AdvertisementData) -> ServiceData | None:
    raw = {k.lower(): v for k, v in adv.service_data.items()}.get(_FTMS)
    if raw is None:
        return None
    try:
        return ServiceData.from_bytes(raw)
    except FtmsDecodeError:
        return None


def _is_treadmill(adv: AdvertisementData) -> bool:
    data = _service_data(adv)
    if data is not None:
        return data.treadmill
    # No service data: accept an FTMS service UUID (some machines omit the data).
    return _FTMS in {u.lower() for u in adv.service_uuids}


def _machine_types(adv: AdvertisementData) -> tuple[str, ...]:
    data = _service_data(adv)
    if data is None:
        return ()
    return tuple(
        (flag.name or "").lower() for flag in type(data.machine_type) if flag in data.machine_type
    )


def _matches(device: BLEDevice, adv: AdvertisementData, wanted: str) -> bool:
    name = adv.local_name or device.name or ""
    return device.address.lower() == wanted.lower() or name.casefold() == wanted.casefold()


async def scan_treadmills(
    timeout: float = 5.0,
    *,
    scanner_kwargs: Mapping[str, Any] | None = None,
    profiles: Sequence[DeviceProfile] | None = None,
) -> list[FoundTreadmill]:
    """Every FTMS treadmill heard within ``timeout`` seconds, strongest first."""
    try:
        seen = await BleakScanner.discover(timeout, return_adv=True, **dict(scanner_kwargs or {}))
    except BLUETOOTH_ERRORS as exc:
        raise link_error(exc, "Bluetooth") from exc
    found = []
    for device, adv in seen.values():
        if not _is_treadmill(adv):
            continue
        name = adv.local_name or device.name or ""
        found.append(
            FoundTreadmill(
                device=device,
                name=name,
                address=device.address,
                rssi=adv.rssi,
                machine_types=_machine_types(adv),
                profile=match_device_profile(name, profiles),
            )
        )
    found.sort(key=lambda f: -(f.rssi if f.rssi is not None else -999))
    return found


async def find_treadmill(
    name_or_address: str,
    timeout: float = 10.0,
    *,
    scanner_kwargs: Mapping[str, Any] | None = None,
) -> tuple[BLEDevice, str]:
    """The treadmill advertising that name or address (or a unique prefix of its
    name), and its advertised name. Not found: the error lists what was seen."""
    names: dict[str, str] = {}
    seen: dict[str, tuple[BLEDevice, str]] = {}  # every FTMS treadmill heard, by address

    def wanted(device: BLEDevice, adv: AdvertisementData) -> bool:
        if not _is_treadmill(adv):
            return False
        name = adv.local_name or device.name or ""
        seen[device.address] = (device, name)
        if _matches(device, adv, name_or_address):
            names[device.address] = name
            return True
        return False

    try:
        device = await BleakScanner.find_device_by_filter(
            wanted, timeout, **dict(scanner_kwargs or {})
        )
    except BLUETOOTH_ERRORS as exc:
        raise link_error(exc, "Bluetooth") from exc
    if device is not None:
        return device, names.get(device.address, device.name or name_or_address)
    prefix = name_or_address.casefold()
    candidates = [(d, n) for d, n in seen.values() if n and n.casefold().startswith(prefix)]
    if len(candidates) == 1:
        return candidates[0]
    found = ", ".join(f"{n or '(no name)'} ({a})" for a, (_, n) in sorted(seen.items()))
    what = f"; found: {found}" if found else "; none advertised FTMS"
    if len(candidates) > 1:
        what = f"; {len(candidates)} names start with it: {found}"
    raise DeviceNotFoundError(
        f"no FTMS treadmill named {name_or_address!r} found in {timeout:g} s{what}"
    )
