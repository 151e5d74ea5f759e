"""The treadmill client: discovery, control procedures, telemetry, quirks, link loss.

It uses only bleak's ``BleakClient``/``BleakScanner`` API, so it is the same code
against a real adapter and against the simulator; only the bleak *backend* differs
(``retrorun.ble.open_link``). Given that link (``link=``, a :class:`ReopenableLink`),
every reconnect attempt asks it for a new host first: over an HCI transport a
frozen, dead or restarted peer leaves bumble's old host wedged.

``async with Treadmill(...)`` connects and takes control; leaving it, normally, by
exception or by cancellation, commands the belt to stop (shielded from
cancellation, bounded in time) and disconnects. A closed Treadmill does not reopen.

Speed and incline commands take a ``SafeCommand`` only: the governor in
``retrorun.safety`` is the one producer of those. The client converts units for
quirky machines *after* the governor (``speed_in_mph``) and never changes a value
otherwise.

On the first connect it reads the Device Information Service (manufacturer, model,
firmware) where there is one, and a profile whose ``match_info`` names that model
wins over the one the advertised name found. Treadmill Data cut at 20 bytes while
its flags announce more (Matrix consoles) is read as far as it goes, speed first:
always with the ``truncated_records`` quirk, and from the moment the first frames
of a connection show it (``truncating``); any other frame too short is garbage.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from retrorun._queue import DropOldestQueue
from retrorun.ble import BLUETOOTH_ERRORS, Situation, command_error, link_error, situation
from retrorun.devices import DeviceProfile, match_device_profile
from retrorun.errors import (
    CommandIgnored,
    CommandRejected,
    CommandTimeout,
    DeviceNotFoundError,
    LinkError,
    LinkLost,
    NoAdapterError,
)
from retrorun.ftms import (
    DEVICE_INFORMATION_SERVICE_UUID,
    DIS_STRINGS,
    FITNESS_MACHINE_CONTROL_POINT_UUID,
    FITNESS_MACHINE_FEATURE_UUID,
    FITNESS_MACHINE_SERVICE_UUID,
    FITNESS_MACHINE_STATUS_UUID,
    KMH_PER_MPH,
    SUPPORTED_INCLINATION_RANGE_UUID,
    SUPPORTED_SPEED_RANGE_UUID,
    TREADMILL_DATA_UUID,
    ControlOp,
    ControlRequest,
    ControlResponse,
    DeviceInformation,
    FitnessMachineFeature,
    FtmsDecodeError,
    InclinationRange,
    MachineStatus,
    RecordAssembler,
    ResultCode,
    ServiceData,
    SpeedRange,
    StatusOp,
    StopOrPause,
    TreadmillData,
    decode_string,
    uuid16,
)
from retrorun.limits import SETTLE_TOLERANCE, WATCHDOG_S
from retrorun.safety import SafeCommand

__all__ = [
    "CommandLog",
    "FoundTreadmill",
    "ReopenableLink",
    "Telemetry",
    "Treadmill",
    "TreadmillEvent",
    "TreadmillEventKind",
    "find_treadmill",
    "scan_treadmills",
]

log = logging.getLogger(__name__)

_STOP_TIMEOUT_S: Final = 5.0
CONNECT_STOP_S: Final = 15.0  # rule 12: a belt moving at connect must be at rest by then
_AT_REST: Final = 10  # 0.01 km/h: a reading this low is a belt at rest
_ECHO_S: Final = 3.0  # a status this soon after our own stop/start is its echo
_TRUNCATED_AT: Final = 20  # the default ATT payload, where truncating consoles cut
_DETECT_FRAMES: Final = 5  # truncation is recognised among a connection's first frames
# A Device Information string read failing so is left out; any other failure is the link's.
_UNREADABLE: Final = frozenset({Situation.REFUSED, Situation.FAILED})


# --------------------------------------------------------------------------- data


class ReopenableLink(Protocol):
    """What the client needs of the Bluetooth link (``retrorun.ble.Link`` is one).

    ``client_kwargs``/``scanner_kwargs`` are read for every new ``BleakClient`` or
    ``BleakScanner``: they name the link's current host. ``reopen()`` replaces a
    host that may be wedged (True), or does nothing (False); it raises
    ``LinkError`` when the transport cannot be opened now. ``reopens`` says
    whether it replaces anything: then the old connection is not asked to
    disconnect first (its host goes, and its links with it).
    """

    @property
    def client_kwargs(self) -> Mapping[str, Any]: ...

    @property
    def scanner_kwargs(self) -> Mapping[str, Any]: ...

    @property
    def reopens(self) -> bool: ...

    async def reopen(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Telemetry:
    """One reassembled Treadmill Data record and the loop time it arrived."""

    t: float
    record: TreadmillData

    @property
    def speed(self) -> int | None:
        """Instantaneous speed in 0.01 km/h."""
        return self.record.speed


class TreadmillEventKind(enum.StrEnum):
    """What the treadmill reported, or what happened to the link."""

    STOPPED_BY_USER = "stopped_by_user"
    PAUSED_BY_USER = "paused_by_user"
    STARTED_BY_USER = "started_by_user"
    SAFETY_KEY = "safety_key"
    TARGET_SPEED_CHANGED = "target_speed_changed"
    TARGET_INCLINE_CHANGED = "target_incline_changed"
    CONTROL_LOST = "control_lost"
    RESET = "reset"
    OTHER_STATUS = "other_status"
    GARBAGE = "garbage"
    STALLED = "stalled"
    LINK_LOST = "link_lost"
    LINK_RESTORED = "link_restored"
    LINK_FAILED = "link_failed"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class TreadmillEvent:
    """A status notification or a link event, at loop time ``t``."""

    t: float
    kind: TreadmillEventKind
    value: int | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CommandLog:
    """One control-point procedure as the session record carries it."""

    t: float
    op: str
    value: float | None
    result: str


@dataclass(frozen=True, slots=True)
class FoundTreadmill:
    """A treadmill seen advertising FTMS."""

    device: BLEDevice
    name: str
    address: str
    rssi: int | None
    machine_types: tuple[str, ...]
    profile: DeviceProfile


# ---------------------------------------------------------------------- discovery

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


# ------------------------------------------------------------------------ client


def _result_name(result: int) -> str:
    try:
        return ResultCode(result).name.lower()
    except ValueError:
        return f"0x{result:02X}"


def _op_name(op: int) -> str:
    try:
        return ControlOp(op).name.lower()
    except ValueError:
        return f"0x{op:02X}"


_STATUS_KINDS: Final = {
    StatusOp.RESET: TreadmillEventKind.RESET,
    StatusOp.STOPPED_BY_SAFETY_KEY: TreadmillEventKind.SAFETY_KEY,
    StatusOp.STARTED_OR_RESUMED_BY_USER: TreadmillEventKind.STARTED_BY_USER,
    StatusOp.TARGET_SPEED_CHANGED: TreadmillEventKind.TARGET_SPEED_CHANGED,
    StatusOp.TARGET_INCLINE_CHANGED: TreadmillEventKind.TARGET_INCLINE_CHANGED,
    StatusOp.CONTROL_PERMISSION_LOST: TreadmillEventKind.CONTROL_LOST,
}


# A status that may be the echo of our own request, and that request.
_ECHOES: Final = {
    StatusOp.STOPPED_OR_PAUSED_BY_USER: ControlOp.STOP_OR_PAUSE,
    StatusOp.STARTED_OR_RESUMED_BY_USER: ControlOp.START_OR_RESUME,
}


@dataclass(slots=True)
class _Pending:
    op: int
    future: asyncio.Future[ControlResponse]


class Treadmill:
    """One FTMS treadmill under control. See the module docstring."""

    def __init__(
        self,
        device: str | BLEDevice,
        *,
        client_kwargs: Mapping[str, Any] | None = None,
        scanner_kwargs: Mapping[str, Any] | None = None,
        link: ReopenableLink | None = None,
        profile: DeviceProfile | None = None,
        profiles: Sequence[DeviceProfile] | None = None,
        scan_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        connect_attempts: int = 3,
        reconnect_attempts: int = 5,
        command_timeout: float = 5.0,
        watchdog_s: float = WATCHDOG_S,
        on_command: Callable[[CommandLog], None] | None = None,
    ) -> None:
        if link is not None and (client_kwargs is not None or scanner_kwargs is not None):
            raise ValueError("Treadmill: give a link or client/scanner kwargs, not both")
        self._target = device
        self._link = link
        self._client_kwargs = dict(client_kwargs or {})
        self._scanner_kwargs = dict(scanner_kwargs or {})
        self._given_profile = profile
        self._profiles = profiles
        self._scan_timeout = scan_timeout
        self._connect_timeout = connect_timeout
        self._connect_attempts = max(1, connect_attempts)
        self._reconnect_attempts = max(1, reconnect_attempts)
        self._command_timeout = command_timeout
        self._watchdog_s = watchdog_s
        self._on_command = on_command

        self._state = "new"
        self._client: BleakClient | None = None
        self._device: BLEDevice | None = None
        self.name = device if isinstance(device, str) else (device.name or device.address)
        self.address = "" if isinstance(device, str) else device.address
        self.profile: DeviceProfile = profile or match_device_profile(None, profiles)
        self.feature: FitnessMachineFeature | None = None
        self.device_info: DeviceInformation | None = None
        self.truncating = False  # Treadmill Data arrives cut at 20 bytes (seen or quirk)
        self._frames = 0  # Treadmill Data notifications on this connection
        self.speed_range: SpeedRange | None = None
        self.incline_range: InclinationRange | None = None
        self.notes: list[str] = []
        self.controlled = False
        self.started = False
        self.belt_stopped: bool | None = None
        self.latest: Telemetry | None = None
        self._last_record_t = 0.0

        self._lock = asyncio.Lock()
        self._pending: _Pending | None = None
        self._assembler = RecordAssembler()
        self._telemetry: DropOldestQueue[Telemetry] = DropOldestQueue(64)
        self._events: DropOldestQueue[TreadmillEvent] = DropOldestQueue(256)
        self._link_up = asyncio.Event()
        self._link_down = asyncio.Event()  # set from the moment the link is lost
        self._record_seen = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._reconnecting: asyncio.Task[None] | None = None
        self._closing = False
        self._sent_at: dict[int, float] = {}

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Treadmill:
        if self._state == "closed":
            raise RuntimeError("this Treadmill was closed; create a new one to connect again")
        if self._state == "open":
            raise RuntimeError("this Treadmill is already open")
        self._state = "open"
        try:
            await self._open()
        except BaseException:
            await self._shutdown()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._shutdown()

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        if isinstance(self._target, str):
            self._device, advertised = await find_treadmill(
                self._target, self._scan_timeout, scanner_kwargs=self._scanner_kw()
            )
            self.name = advertised or self._target
        else:
            self._device = self._target
        self.address = self._device.address
        if self._given_profile is None:
            self.profile = match_device_profile(self.name, self._profiles)
        await self._connect(self._connect_attempts)
        self._last_record_t = loop.time()
        await self._stop_if_moving()
        self._spawn(self._watchdog(), "treadmill-watchdog")

    async def _stop_if_moving(self) -> None:
        """Rule 12: on connect, read the belt; a moving belt is stopped and seen at rest.

        A previous controller may have died with the belt running. The first
        record (bounded by the watchdog) tells; a moving belt gets Stop and must
        read 0 within ``CONNECT_STOP_S``, otherwise the connection is refused.
        """
        loop = asyncio.get_running_loop()
        if self.latest is None:
            await self.next_record(self._watchdog_s)
        if self.latest is not None and (self.latest.speed or 0) <= _AT_REST:
            return
        await self.stop_belt()  # moving, or not seen: stop it either way
        deadline = loop.time() + CONNECT_STOP_S
        while loop.time() < deadline:
            latest = self.latest
            if latest is not None and (latest.speed or 0) <= _AT_REST:
                self._note(f"{self.name}'s belt was moving at connect: stopped it first")
                return
            await self.next_record(deadline - loop.time())
        if self.latest is None:
            return  # no telemetry at all: the watchdog deals with a silent machine
        raise LinkError(
            f"{self.name}'s belt is moving ({(self.latest.speed or 0) / 100:.1f} km/h) and did"
            f" not stop within {CONNECT_STOP_S:g} s of a Stop: refusing to start"
        )

    def _client_kw(self) -> Mapping[str, Any]:
        return self._link.client_kwargs if self._link is not None else self._client_kwargs

    def _scanner_kw(self) -> Mapping[str, Any]:
        return self._link.scanner_kwargs if self._link is not None else self._scanner_kwargs

    async def _connect(self, attempts: int, *, new_host: bool = False) -> None:
        """Connect with bounded retries and backoff, then read and subscribe.

        Before every attempt but a first one (and before that too with
        ``new_host``) the link gets a new host where it can (``link.reopen()``):
        an attempt that failed may have left the old one wedged. A link that
        cannot be reopened now counts as a failed attempt.
        """
        delay = 0.5
        last: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 8.0)
            if self._link is not None and (attempt or new_host):
                try:
                    await self._link.reopen()
                except BLUETOOTH_ERRORS as exc:
                    last = link_error(exc, "Bluetooth")
                    log.info("attempt %d: %s", attempt + 1, last)
                    continue
                except LinkError as exc:
                    last = exc
                    log.info("attempt %d: %s", attempt + 1, exc)
                    continue
            client = BleakClient(
                self._device or self.address,
                disconnected_callback=self._on_disconnect,
                timeout=self._connect_timeout,
                **self._client_kw(),
            )
            try:
                try:
                    async with asyncio.timeout(self._connect_timeout * 2):
                        await client.connect()
                    self._client = client
                    self._link_down.clear()
                    async with asyncio.timeout(self._connect_timeout * 2):
                        await self._setup()
                except BLUETOOTH_ERRORS as exc:
                    raise link_error(exc, "Bluetooth") from exc
            except NoAdapterError:
                raise
            except (LinkError, CommandTimeout) as exc:
                last = exc  # a setup procedure never answered is a failed attempt, too
                log.info("connect attempt %d to %s failed: %s", attempt + 1, self.name, exc)
                with contextlib.suppress(Exception):
                    await client.disconnect()
                self._client = None
                continue
            self._link_up.set()
            return
        raise LinkLost(f"could not connect to {self.name} after {attempts} attempt(s): {last}")

    async def _setup(self) -> None:
        client = self._require_client()
        self._assembler.reset()
        self._frames = 0
        if self.feature is None:
            self.device_info = await self._read_device_information()
            if self._given_profile is None and self.device_info is not None:
                self.profile = match_device_profile(
                    self.name, self._profiles, info=self.device_info.describe()
                )
            self.feature = FitnessMachineFeature.from_bytes(
                await client.read_gatt_char(FITNESS_MACHINE_FEATURE_UUID)
            )
            self.speed_range = await self._read_range(SUPPORTED_SPEED_RANGE_UUID, SpeedRange)
            self.incline_range = await self._read_range(
                SUPPORTED_INCLINATION_RANGE_UUID, InclinationRange
            )
        await client.start_notify(FITNESS_MACHINE_CONTROL_POINT_UUID, self._on_indication)
        await client.start_notify(TREADMILL_DATA_UUID, self._on_data)
        await client.start_notify(FITNESS_MACHINE_STATUS_UUID, self._on_status)
        await self._take_control()

    async def _read_device_information(self) -> DeviceInformation | None:
        """The DIS strings the machine exposes (``None`` without the service); a
        string that cannot be read is left out, never a reason to refuse."""
        client = self._require_client()
        service = client.services.get_service(DEVICE_INFORMATION_SERVICE_UUID)
        if service is None:
            return None
        values: dict[str, str] = {}
        for key, short in DIS_STRINGS.items():
            char = service.get_characteristic(uuid16(short))
            if char is None:
                continue
            try:
                values[key] = decode_string(await client.read_gatt_char(char))
            except BLUETOOTH_ERRORS as exc:
                if situation(exc) not in _UNREADABLE:
                    raise  # the link, not this string: the connect attempt fails
                log.info("could not read %s of %s: %s", key, self.name, exc)
        return DeviceInformation(**values)

    async def _read_range(self, uuid: str, kind: type[SpeedRange] | type[InclinationRange]) -> Any:
        client = self._require_client()
        if client.services.get_characteristic(uuid) is None:
            return None
        value = kind.from_bytes(await client.read_gatt_char(uuid))
        if value.minimum == value.maximum == value.step == 0:
            what = "speed" if kind is SpeedRange else "inclination"
            self._note(
                f"{self.name} reports an all-zero {what} range; using the "
                f"'{self.profile.name}' device profile's range instead"
            )
            return None
        return value

    async def _take_control(self) -> None:
        if self.profile.has("rejects_request_control"):
            self.controlled = False
            return
        try:
            await self._procedure(ControlRequest.request_control())
        except CommandRejected as exc:
            self._note(f"{self.name} refused Request Control ({exc}); continuing without it")
            self.controlled = False
        else:
            self.controlled = True

    async def _shutdown(self) -> None:
        """Stop the belt and disconnect: shielded, bounded, and run once."""
        if self._state == "closed":
            return
        self._state = "closed"
        self._closing = True
        task = asyncio.ensure_future(self._stop_and_disconnect())
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            # Cancelled while stopping: finish the stop anyway, then propagate.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(task), _STOP_TIMEOUT_S * 2)
            raise

    async def _stop_and_disconnect(self) -> None:
        try:
            async with asyncio.timeout(_STOP_TIMEOUT_S * 2):
                if self._reconnecting is not None and not self._reconnecting.done():
                    # A reconnect in progress sends Stop first; give it its chance.
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(asyncio.shield(self._reconnecting), _STOP_TIMEOUT_S)
                if self.connected:
                    await self.stop_belt()
        except (TimeoutError, Exception) as exc:  # noqa: BLE001 - shutdown must go on
            log.warning("could not confirm the belt stop on %s: %s", self.name, exc)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._reconnecting is not None:
                self._reconnecting.cancel()
            client, self._client = self._client, None
            if client is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(_STOP_TIMEOUT_S):
                        await client.disconnect()
            self._link_up.clear()
            self._telemetry.close()
            self._events.close()

    # -------------------------------------------------------------- properties

    @property
    def connected(self) -> bool:
        """The link is up (as far as bleak knows)."""
        return self._client is not None and self._client.is_connected and self._link_up.is_set()

    @property
    def watchdog_s(self) -> float:
        """Seconds without telemetry after which the link counts as lost."""
        return self._watchdog_s

    @property
    def speed_limits(self) -> tuple[int, int, int]:
        """(min, max, step) in 0.01 km/h: the machine's, or the profile's when distrusted."""
        if self.speed_range is not None:
            return (self.speed_range.minimum, self.speed_range.maximum, self.speed_range.step)
        return self.profile.speed.raw

    @property
    def incline_limits(self) -> tuple[int, int, int]:
        """(min, max, step) in 0.1 %: the machine's, or the profile's when distrusted."""
        if self.incline_range is not None:
            r = self.incline_range
            return (r.minimum, r.maximum, r.step)
        return self.profile.incline.raw

    @property
    def device_max_speed(self) -> int:
        """The maximum speed the session's ceiling is capped by (0.01 km/h)."""
        return self.speed_limits[1]

    # -------------------------------------------------------------- procedures

    async def _procedure(
        self, request: ControlRequest, value: float | None = None
    ) -> ControlResponse:
        """Write one request, await the indication that names it, check the result."""
        loop = asyncio.get_running_loop()
        op_name = _op_name(request.op)
        async with self._lock:
            client = self._require_client()
            # Machines echo our own stop/start as a "by the user" status: remember
            # what we asked so the echo is not taken for a person at the console.
            self._sent_at[request.op] = loop.time()
            future: asyncio.Future[ControlResponse] = loop.create_future()
            self._pending = _Pending(request.op, future)
            try:
                async with asyncio.timeout(self._command_timeout):
                    response = await self._exchange(client, request, future)
            except LinkLost:
                self._log_command(op_name, value, "link lost")
                raise
            except BLUETOOTH_ERRORS as exc:
                error = command_error(
                    exc,
                    f"{op_name} failed on {self.name}",
                    op=request.op,
                    op_name=op_name,
                    timeout_s=self._command_timeout,
                )
                if isinstance(error, CommandTimeout):
                    self._log_command(op_name, value, "timeout")
                    raise error from None
                self._log_command(op_name, value, f"error: {exc}")
                raise error from exc
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is None or task.cancelling() > 0:
                    raise  # our caller cancelled us: let it go
                # The Bluetooth stack cancelled the wait (the link dropped under a
                # pending write): that is a lost link, never a silent cancellation.
                self._log_command(op_name, value, "link lost")
                raise LinkLost(f"{op_name} on {self.name}: the link dropped") from None
            finally:
                self._pending = None
        result = _result_name(response.result)
        self._log_command(op_name, value, result)
        if not response.succeeded:
            if response.result == ResultCode.CONTROL_NOT_PERMITTED and request.op != 0:
                self.controlled = False
            raise CommandRejected(request.op, response.result, op_name, result)
        return response

    async def _exchange(
        self,
        client: BleakClient,
        request: ControlRequest,
        future: asyncio.Future[ControlResponse],
    ) -> ControlResponse:
        """Write the request and await its indication, or ``LinkLost`` the moment the
        link drops (a lost write is never answered: waiting out the timeout would
        leave the session deaf for seconds)."""
        if self._link_down.is_set():
            raise LinkLost(f"{_op_name(request.op)} on {self.name}: the link is down")

        async def write_and_wait() -> ControlResponse:
            await client.write_gatt_char(
                FITNESS_MACHINE_CONTROL_POINT_UUID, bytes(request), response=True
            )
            return await future

        work = asyncio.ensure_future(write_and_wait())
        down = asyncio.ensure_future(self._link_down.wait())
        try:
            await asyncio.wait({work, down}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            down.cancel()
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work
        if work.cancelled() or not work.done():
            raise LinkLost(f"{_op_name(request.op)} on {self.name}: the link dropped")
        return work.result()

    def _log_command(self, op: str, value: float | None, result: str) -> None:
        if self._on_command is not None:
            entry = CommandLog(asyncio.get_running_loop().time(), op, value, result)
            self._on_command(entry)

    async def start(self) -> None:
        """Start or resume the belt.

        A paused machine resumes at its target from before the pause: send the
        approved speed first (``set_speed``), then start. "Operation failed" is
        what a spec-strict machine answers when it already runs (FTMS 4.16.2.22):
        harmless, and the session judges by the belt (a belt that does not follow
        is ``CommandIgnored`` when it settles).
        """
        await self._repeatable(ControlRequest.start_or_resume(), "already running")
        self.started = True

    async def pause(self) -> None:
        """Pause the belt (FTMS Stop or Pause, parameter pause)."""
        await self._repeatable(ControlRequest.pause(), "nothing to pause")
        self.started = False

    async def stop_belt(self) -> bool:
        """Command the belt to stop; True when the treadmill acknowledged it (an
        "operation failed" for a belt already stopped counts: telemetry tells)."""
        try:
            await self._repeatable(ControlRequest.stop(), "already stopped")
        except CommandRejected:
            self.belt_stopped = False
            raise
        self.started = False
        self.belt_stopped = True
        return True

    async def _repeatable(self, request: ControlRequest, meaning: str) -> None:
        """A procedure whose repetition a machine may answer with Operation Failed."""
        try:
            await self._procedure(request)
        except CommandRejected as exc:
            if exc.result != ResultCode.OPERATION_FAILED:
                raise
            log.info("%s answered operation failed (%s): tolerated", _op_name(request.op), meaning)

    async def set_speed(self, command: SafeCommand) -> None:
        """Send a governor-approved speed (0.01 km/h); mph machines get 0.01 mph."""
        if not isinstance(command, SafeCommand) or command.kind != "speed":
            raise TypeError("set_speed takes a speed SafeCommand from the safety governor")
        if command.value == 0:
            await self.stop_belt()
            return
        if self.profile.has("needs_start_before_speed") and not self.started:
            await self.start()
        raw = command.value
        if self.profile.has("speed_in_mph"):
            # Down, never up: the mph sent is at or under the approved km/h.
            raw = math.floor(raw / KMH_PER_MPH + 1e-9)
        await self._procedure(ControlRequest.set_target_speed(raw), command.value / 100)
        self.belt_stopped = False

    async def set_incline(self, command: SafeCommand) -> None:
        """Send a governor-approved inclination (0.1 %)."""
        if not isinstance(command, SafeCommand) or command.kind != "incline":
            raise TypeError("set_incline takes an incline SafeCommand from the safety governor")
        await self._procedure(
            ControlRequest.set_target_inclination(command.value), command.value / 10
        )

    async def wait_for_speed(self, target: int, timeout: float | None = None) -> bool:
        """Wait for the belt to reach ``target`` (0.01 km/h) within 0.2 km/h.

        True once settled; False when the belt is moving toward the target but has
        not arrived within ``timeout`` (default: the profile's settle time) — a slow
        belt. Raises ``CommandIgnored`` when the belt made no progress at all.
        """
        timeout = self.profile.settle_time_s if timeout is None else timeout
        start = self.latest.speed if self.latest is not None else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            now = self.latest.speed if self.latest is not None else None
            if start is None:
                start = now
            if now is not None and abs(now - target) <= SETTLE_TOLERANCE:
                return True
            remaining = deadline - loop.time()
            if remaining <= 1e-3:  # arrived (clocks round; never spin on a sliver)
                break
            await self.next_record(remaining)
        now = self.latest.speed if self.latest is not None else None
        if start is not None and now is not None and abs(target - start) > SETTLE_TOLERANCE:
            moved = (now - start) if target > start else (start - now)
            if moved < SETTLE_TOLERANCE // 2:
                raise CommandIgnored(
                    ControlOp.SET_TARGET_SPEED,
                    f"{self.name} acknowledged {target / 100:.2f} km/h but the belt stayed at "
                    f"{now / 100:.2f} km/h for {timeout:g} s",
                )
        return False

    async def next_record(self, timeout: float) -> None:
        """Wait for the next telemetry record, at most ``timeout`` seconds."""
        self._record_seen.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(timeout, 0.0)):
                await self._record_seen.wait()

    # ---------------------------------------------------------------- streams

    def telemetry(self) -> AsyncIterator[Telemetry]:
        """Reassembled Treadmill Data records, in order, until the Treadmill closes."""
        return aiter(self._telemetry)

    def events(self) -> AsyncIterator[TreadmillEvent]:
        """Status notifications and link events, until the Treadmill closes."""
        return aiter(self._events)

    # ---------------------------------------------------------------- callbacks

    def _on_indication(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        try:
            response = ControlResponse.from_bytes(data)
        except (FtmsDecodeError, ValueError) as exc:
            self._emit(TreadmillEventKind.GARBAGE, detail=f"control point: {exc}")
            return
        pending = self._pending
        if pending is None or pending.op != response.request_op or pending.future.done():
            log.info("unexpected control point response %s", response)
            return
        pending.future.set_result(response)

    def _on_data(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        self._frames += 1
        partial = self.truncating or self.profile.has("truncated_records")
        try:
            record = self._assembler.feed_bytes(data, partial=partial)
        except (FtmsDecodeError, ValueError) as exc:
            record = self._detect_truncation(data) if not partial else None
            if record is None:
                self._emit(TreadmillEventKind.GARBAGE, detail=f"treadmill data: {exc}")
                return
        if record is None:
            return
        t = asyncio.get_running_loop().time()
        self._last_record_t = t
        sample = Telemetry(t, record)
        self.latest = sample
        self._telemetry.put(sample)
        self._record_seen.set()

    def _detect_truncation(self, data: bytearray) -> TreadmillData | None:
        """Among the first frames of a connection, a frame cut at exactly 20 bytes
        that still holds its speed is a console that truncates (the quirk is then on
        for the session): the record it completes, else ``None``."""
        if self._frames > _DETECT_FRAMES or len(data) != _TRUNCATED_AT:
            return None
        try:
            record = self._assembler.feed_bytes(data, partial=True)
        except (FtmsDecodeError, ValueError):
            return None
        self.truncating = True
        self._note(
            f"{self.name} cuts Treadmill Data at {_TRUNCATED_AT} bytes (flags "
            f"0x{data[0] | data[1] << 8:04X} announce more): reading the fields it does "
            "send, speed first"
        )
        return record

    def _on_status(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        try:
            status = MachineStatus.from_bytes(data)
        except (FtmsDecodeError, ValueError) as exc:
            self._emit(TreadmillEventKind.GARBAGE, detail=f"status: {exc}")
            return
        echo_of = _ECHOES.get(status.op)  # type: ignore[call-overload]
        now = asyncio.get_running_loop().time()
        if echo_of is not None and now - self._sent_at.get(echo_of, float("-inf")) < _ECHO_S:
            self._emit(TreadmillEventKind.OTHER_STATUS, status.value, detail="echo of our command")
            return
        if status.op == StatusOp.STOPPED_OR_PAUSED_BY_USER:
            kind = (
                TreadmillEventKind.PAUSED_BY_USER
                if status.value == StopOrPause.PAUSE
                else TreadmillEventKind.STOPPED_BY_USER
            )
            self.started = False
        else:
            kind = _STATUS_KINDS.get(status.op, TreadmillEventKind.OTHER_STATUS)  # type: ignore[call-overload]
        if kind in {TreadmillEventKind.CONTROL_LOST, TreadmillEventKind.RESET}:
            self.controlled = False
        if kind is TreadmillEventKind.SAFETY_KEY:
            self.started = False
        value = status.value
        if (
            kind is TreadmillEventKind.TARGET_SPEED_CHANGED
            and value is not None
            and self.profile.has("speed_in_mph")
        ):
            value = round(value * KMH_PER_MPH)
        self._emit(kind, value, detail=f"status 0x{status.op:02X}")

    def _on_disconnect(self, client: BleakClient) -> None:
        if self._closing or client is not self._client:
            return  # a client given up on (its host replaced) may report late
        self._link_down.set()  # a procedure waiting on this client fails now
        if not self._link_up.is_set():
            return  # still setting up: that attempt fails, and _connect goes on
        self._link_up.clear()
        self._emit(TreadmillEventKind.LINK_LOST, detail="disconnected")
        self._start_reconnect()

    def _emit(self, kind: TreadmillEventKind, value: int | None = None, detail: str = "") -> None:
        t = asyncio.get_running_loop().time()
        self._events.put(TreadmillEvent(t, kind, value, detail))

    def _note(self, message: str) -> None:
        self.notes.append(message)
        log.warning("%s", message)
        with contextlib.suppress(RuntimeError):
            self._emit(TreadmillEventKind.NOTE, detail=message)

    # ----------------------------------------------------------- link recovery

    async def _watchdog(self) -> None:
        """No telemetry for ``watchdog_s`` while connected: treat the link as lost."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._watchdog_s / 4)
            if self._closing:
                return
            if not self.connected:
                continue
            silent = loop.time() - self._last_record_t
            if silent > self._watchdog_s:
                self._emit(TreadmillEventKind.STALLED, detail=f"no telemetry for {silent:.1f} s")
                self._link_up.clear()
                self._link_down.set()
                self._emit(TreadmillEventKind.LINK_LOST, detail="telemetry stalled")
                self._start_reconnect(drop_first=True)

    def _start_reconnect(self, *, drop_first: bool = False) -> None:
        if self._closing or (self._reconnecting is not None and not self._reconnecting.done()):
            return
        self._reconnecting = asyncio.get_running_loop().create_task(
            self._reconnect(drop_first=drop_first), name="treadmill-reconnect"
        )

    async def _reconnect(self, *, drop_first: bool) -> None:
        """Reconnect (bounded); a failure of any kind is a ``link_failed`` event."""
        try:
            async with asyncio.timeout(self._reconnect_budget_s()):
                # A link that drops again before the reconnect's Stop is answered
                # is reconnected again (within the same budget): ending here would
                # leave it down with nothing trying to bring it back.
                while not await self._reconnect_once(drop_first=drop_first):
                    drop_first = False
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            self._emit(TreadmillEventKind.LINK_FAILED, detail="reconnect timed out")
        except Exception as exc:  # never a silent end of the recovery
            log.info("reconnect crashed", exc_info=True)  # the event says it; no traceback
            self._emit(TreadmillEventKind.LINK_FAILED, detail=f"reconnect failed: {exc!r}")

    def _reconnect_budget_s(self) -> float:
        """The whole reconnect, attempts and backoff included, in loop seconds."""
        per_attempt = self._connect_timeout * 4 + 8.0
        return self._reconnect_attempts * per_attempt + _STOP_TIMEOUT_S

    async def _reconnect_once(self, *, drop_first: bool) -> bool:
        """Reconnect, take control, and send Stop before anything else.

        False when the link dropped again before the Stop was answered (try
        again); True when the reconnect is over, restored or failed.

        On a link that can replace its host (an HCI transport) every attempt gets
        a new one: after a stall or a dead transport the old host may never answer
        again, and asking it to disconnect first would only wait for that.
        """
        old, self._client = self._client, None
        self.controlled = False
        self.started = False
        new_host = self._link is not None and self._link.reopens
        if old is not None and drop_first and not new_host:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_STOP_TIMEOUT_S):
                    await old.disconnect()
        try:
            await self._connect(self._reconnect_attempts, new_host=new_host)
        except LinkError as exc:
            self._emit(TreadmillEventKind.LINK_FAILED, detail=str(exc))
            return True
        self._last_record_t = asyncio.get_running_loop().time()
        try:
            await self.stop_belt()
        except (CommandRejected, CommandTimeout, LinkError) as exc:
            if self._closing or self._link_down.is_set():
                return self._closing  # lost again: the while in _reconnect goes round
            self._emit(TreadmillEventKind.LINK_RESTORED, detail=f"reconnected; stop failed: {exc}")
            return True
        if self._link_down.is_set() and not self._closing:
            return False  # Stop answered, but the link dropped right after
        self._emit(TreadmillEventKind.LINK_RESTORED, detail="reconnected and stopped the belt")
        return True

    # -------------------------------------------------------------------- misc

    def _require_client(self) -> BleakClient:
        if self._client is None:
            raise LinkLost(f"not connected to {self.name}")
        return self._client

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def set_command_log(self, callback: Callable[[CommandLog], None] | None) -> None:
        """Where every control-point procedure is reported (the session record)."""
        self._on_command = callback
