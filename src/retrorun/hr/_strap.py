"""The heart-rate strap client: find, connect, subscribe to 0x2A37, reconnect on loss.

Plain bleak (``BleakClient``/``BleakScanner``) on whatever link the session uses
(``retrorun.ble.open_link``: the platform adapter, ``--hci``, or the embedded
simulator's virtual link), as the treadmill client does. A strap never moves a belt,
so this client is small: it keeps the newest reading (:attr:`HeartRateStrap.latest`,
stamped with the loop time it arrived) and leaves every judgement of it (stale,
contact, stuck) to the governor. It never makes up a value: a lost link, a strap
off the skin or a silent strap all leave ``latest`` as it was, older every second.

A notification that does not decode is dropped, counted (``dropped``) and logged at
debug level: one bad frame is not a reason to doubt the strap, a stale one is.

On a lost link (the disconnect callback, or no notification for
``silence_s`` while connected: a host the treadmill client replaced leaves its old
links dead without a word) it reconnects in the background, with backoff, until it
is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from retrorun.ble import translate_platform_error
from retrorun.errors import DeviceNotFoundError, LinkError, LinkLost
from retrorun.hr._codec import (
    HEART_RATE_MEASUREMENT_UUID,
    HEART_RATE_SERVICE_UUID,
    HeartRateDecodeError,
    HeartRateMeasurement,
)
from retrorun.tasks import cancel_and_wait

__all__ = ["FoundStrap", "HeartRateSample", "HeartRateStrap", "find_strap", "scan_straps"]

log = logging.getLogger(__name__)

_SILENCE_S = 10.0  # connected but silent this long: drop the link and connect again
_BACKOFF_MAX_S = 8.0


class StrapLink(Protocol):
    """What the client needs of the link (``retrorun.ble.Link`` is one): the keyword
    arguments naming its current host, read for every new client or scanner."""

    @property
    def client_kwargs(self) -> Mapping[str, Any]: ...

    @property
    def scanner_kwargs(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class HeartRateSample:
    """One reading as it arrived: ``t`` is the loop time of its notification."""

    t: float
    bpm: int
    contact: bool | None  # None: the strap cannot tell
    rr_s: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class FoundStrap:
    """A sensor seen advertising the Heart Rate Service."""

    device: BLEDevice
    name: str
    address: str
    rssi: int | None


def _is_strap(adv: AdvertisementData) -> bool:
    return HEART_RATE_SERVICE_UUID in {u.lower() for u in adv.service_uuids}


@contextlib.asynccontextmanager
async def _platform_errors() -> AsyncIterator[None]:
    """bleak's platform backend on a machine with no Bluetooth: one clear error."""
    try:
        yield
    except (FileNotFoundError, BleakError) as exc:
        no_adapter = translate_platform_error(exc)
        if no_adapter is not None:
            raise no_adapter from exc
        if isinstance(exc, BleakError):
            raise LinkError(f"Bluetooth: {exc}") from exc
        raise


async def scan_straps(
    timeout: float = 5.0, *, scanner_kwargs: Mapping[str, Any] | None = None
) -> list[FoundStrap]:
    """Every heart-rate sensor heard within ``timeout`` seconds, strongest first."""
    async with _platform_errors():
        seen = await BleakScanner.discover(timeout, return_adv=True, **dict(scanner_kwargs or {}))
    found = [
        FoundStrap(device, adv.local_name or device.name or "", device.address, adv.rssi)
        for device, adv in seen.values()
        if _is_strap(adv)
    ]
    found.sort(key=lambda f: -(f.rssi if f.rssi is not None else -999))
    return found


async def find_strap(
    name_or_address: str,
    timeout: float = 10.0,
    *,
    scanner_kwargs: Mapping[str, Any] | None = None,
) -> tuple[BLEDevice, str]:
    """The heart-rate sensor advertising that name or address (or a unique prefix of
    its name), and its name. Not found: the error lists the sensors that were seen."""
    seen: dict[str, tuple[BLEDevice, str]] = {}
    wanted_text = name_or_address.casefold()

    def wanted(device: BLEDevice, adv: AdvertisementData) -> bool:
        if not _is_strap(adv):
            return False
        name = adv.local_name or device.name or ""
        seen[device.address] = (device, name)
        return device.address.casefold() == wanted_text or name.casefold() == wanted_text

    async with _platform_errors():
        device = await BleakScanner.find_device_by_filter(
            wanted, timeout, **dict(scanner_kwargs or {})
        )
    if device is not None:
        return seen.get(device.address, (device, device.name or name_or_address))
    candidates = [(d, n) for d, n in seen.values() if n and n.casefold().startswith(wanted_text)]
    if len(candidates) == 1:
        return candidates[0]
    found = ", ".join(f"{n or '(no name)'} ({a})" for a, (_, n) in sorted(seen.items()))
    what = f"; found: {found}" if found else "; none advertised the Heart Rate Service"
    raise DeviceNotFoundError(
        f"--hr: no heart-rate sensor named {name_or_address!r} found in {timeout:g} s{what}"
    )


class HeartRateStrap:
    """One heart-rate sensor, for ``async with``. See the module docstring.

    Entering finds and connects (bounded retries; ``LinkLost`` when it cannot);
    leaving disconnects and stops the reconnect task. ``on_sample`` (optional) is
    called with every reading as it arrives.
    """

    def __init__(
        self,
        target: str,
        *,
        link: StrapLink,
        scan_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        connect_attempts: int = 3,
        silence_s: float = _SILENCE_S,
        on_sample: Callable[[HeartRateSample], None] | None = None,
    ) -> None:
        self.name = target
        self.address = ""
        self.latest: HeartRateSample | None = None
        self.samples = 0  # readings received
        self.dropped = 0  # notifications that did not decode
        self.reconnects = 0
        self._target = target
        self._link = link
        self._scan_timeout = scan_timeout
        self._connect_timeout = connect_timeout
        self._attempts = max(1, connect_attempts)
        self._silence_s = silence_s
        self._on_sample = on_sample
        self._device: BLEDevice | None = None
        self._client: BleakClient | None = None
        self._last_heard = 0.0
        self._lost = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """The link to the strap is up (its readings may still be stale)."""
        return self._client is not None and not self._lost.is_set()

    async def __aenter__(self) -> HeartRateStrap:
        if self._closing:
            raise RuntimeError("this HeartRateStrap was closed; create a new one")
        self._device, advertised = await find_strap(
            self._target, self._scan_timeout, scanner_kwargs=self._link.scanner_kwargs
        )
        self.name = advertised or self._target
        self.address = self._device.address
        await self._connect(self._attempts)
        self._task = asyncio.get_running_loop().create_task(self._keep(), name="strap-link")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing = True
        if self._task is not None:
            await cancel_and_wait(self._task)  # never swallows our own cancellation
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5.0):
                    await client.disconnect()

    async def _connect(self, attempts: int) -> None:
        delay = 0.5
        last: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX_S)
            client = BleakClient(
                self._device or self.address,
                disconnected_callback=self._on_disconnect,
                timeout=self._connect_timeout,
                **dict(self._link.client_kwargs),
            )
            try:
                async with _platform_errors(), asyncio.timeout(self._connect_timeout * 2):
                    await client.connect()
                    self._client = client
                    self._lost.clear()
                    self._last_heard = asyncio.get_running_loop().time()
                    await client.start_notify(HEART_RATE_MEASUREMENT_UUID, self._on_measurement)
            except (TimeoutError, BleakError, LinkError, OSError) as exc:
                last = exc
                log.info("strap connect attempt %d to %s failed: %s", attempt + 1, self.name, exc)
                self._client = None
                with contextlib.suppress(Exception):
                    await client.disconnect()
                continue
            return
        raise LinkLost(f"could not connect to heart-rate sensor {self.name}: {last}")

    def _on_disconnect(self, client: BleakClient) -> None:
        if client is self._client and not self._closing:
            self._lost.set()

    def _on_measurement(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        try:
            value = HeartRateMeasurement.from_bytes(data)
        except HeartRateDecodeError as exc:
            self.dropped += 1
            log.debug("dropped a heart-rate notification (%s): %s", bytes(data).hex("-"), exc)
            return
        now = asyncio.get_running_loop().time()
        self._last_heard = now
        sample = HeartRateSample(now, value.bpm, value.contact, value.rr_s)
        self.latest = sample
        self.samples += 1
        if self._on_sample is not None:
            self._on_sample(sample)

    async def _keep(self) -> None:
        """Watch the link; reconnect (with backoff, until closed) when it is lost."""
        loop = asyncio.get_running_loop()
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(self._silence_s / 4, 0.1)):
                    await self._lost.wait()
            silent = loop.time() - self._last_heard > self._silence_s
            if not (self._lost.is_set() or silent):
                continue
            log.info(
                "heart-rate sensor %s lost (%s)",
                self.name,
                "link" if self._lost.is_set() else "silent",
            )
            old, self._client = self._client, None
            self._lost.set()
            if old is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2.0):
                        await old.disconnect()
            try:
                await self._connect(self._attempts)
                self.reconnects += 1
            except LinkLost as exc:
                log.info("%s", exc)
                await asyncio.sleep(_BACKOFF_MAX_S)
