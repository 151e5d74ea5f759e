"""Supervisor: the link's life, from the first connect to the belt stopped at the end.

This part owns the connect with bounded retries and backoff (a new host before
every attempt on a link that can replace one), the setup of each connection (on
the first: the Device Information read, features and ranges; on every one: the
subscriptions and Request Control), the watchdog (no telemetry for ``watchdog_s``
while connected is a lost link), the link-down and link-up events, and the
reconnect, whose first request is Stop. It writes :class:`Machine`, changes the
:class:`Connection`, and uses the procedures and the telemetry through their
methods.

Rule 12, on every connect: the belt is read, and a moving (or unseen) belt gets
Stop and must read at rest within ``CONNECT_STOP_S``, or the connection is
refused. A drop during setup fails that attempt at once; a drop during a
reconnect's Stop is reconnected again within the same budget; a reconnect that
cannot finish ends in a ``link_failed`` event, never in silence.

Leaving, normally, by exception or by cancellation, commands the belt to stop
(shielded from cancellation, bounded in time) and disconnects. A closed
supervisor does not reopen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, Final

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice

from retrorun.ble import BLUETOOTH_ERRORS, Situation, link_error, situation
from retrorun.devices import DeviceProfile, match_device_profile
from retrorun.errors import (
    CommandRejected,
    CommandTimeout,
    LinkError,
    LinkLost,
    NoAdapterError,
)
from retrorun.ftms import (
    DEVICE_INFORMATION_SERVICE_UUID,
    DIS_STRINGS,
    FITNESS_MACHINE_FEATURE_UUID,
    SUPPORTED_INCLINATION_RANGE_UUID,
    SUPPORTED_SPEED_RANGE_UUID,
    DeviceInformation,
    FitnessMachineFeature,
    InclinationRange,
    SpeedRange,
    decode_string,
    uuid16,
)
from retrorun.treadmill._connection import Connection
from retrorun.treadmill._data import Machine, ReopenableLink, TreadmillEventKind
from retrorun.treadmill._discovery import find_treadmill
from retrorun.treadmill._procedures import Procedures
from retrorun.treadmill._telemetry import TelemetryFeed

__all__ = ["CONNECT_STOP_S", "Notify", "Supervisor"]

log = logging.getLogger(__name__)

_STOP_TIMEOUT_S: Final = 5.0
#: Stalls in a row, each reconnected, with no record in between: the link comes back
#: but the machine sends no telemetry (its data service dead), so the belt cannot be
#: seen; reconnecting for ever would leave a session that never ends.
_SILENT_RECONNECTS: Final = 3
CONNECT_STOP_S: Final = 15.0  # rule 12: a belt moving at connect must be at rest by then
_AT_REST: Final = 10  # 0.01 km/h: a reading this low is a belt at rest
# A Device Information string read failing so is left out; any other failure is the link's.
_UNREADABLE: Final = frozenset({Situation.REFUSED, Situation.FAILED})

#: A bleak notification callback.
Notify = Callable[[BleakGATTCharacteristic, bytearray], None]


class Supervisor:
    """One treadmill's link; see the module docstring.

    ``subscriptions`` are the characteristics to subscribe to on every connection,
    in order, with the callback each one's notifications go to.
    """

    def __init__(
        self,
        machine: Machine,
        connection: Connection,
        feed: TelemetryFeed,
        procedures: Procedures,
        *,
        target: str | BLEDevice,
        subscriptions: Sequence[tuple[str, Notify]],
        link: ReopenableLink | None,
        client_kwargs: Mapping[str, Any] | None,
        scanner_kwargs: Mapping[str, Any] | None,
        given_profile: DeviceProfile | None,
        profiles: Sequence[DeviceProfile] | None,
        scan_timeout: float,
        connect_timeout: float,
        connect_attempts: int,
        reconnect_attempts: int,
        watchdog_s: float,
    ) -> None:
        if link is not None and (client_kwargs is not None or scanner_kwargs is not None):
            raise ValueError("Treadmill: give a link or client/scanner kwargs, not both")
        self._machine = machine
        self._connection = connection
        self._feed = feed
        self._procedures = procedures
        self._target = target
        self._subscriptions = tuple(subscriptions)
        self._link = link
        self._client_kwargs = dict(client_kwargs or {})
        self._scanner_kwargs = dict(scanner_kwargs or {})
        self._given_profile = given_profile
        self._profiles = profiles
        self._scan_timeout = scan_timeout
        self._connect_timeout = connect_timeout
        self._connect_attempts = max(1, connect_attempts)
        self._reconnect_attempts = max(1, reconnect_attempts)
        self._watchdog_s = watchdog_s

        self._state = "new"
        self._device: BLEDevice | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._reconnecting: asyncio.Task[None] | None = None
        self._stalls = 0  # stalls in a row with no record between them
        self._last_stalled_on: object = None  # the latest record at the last stall
        self._closing = False

    @property
    def watchdog_s(self) -> float:
        """Seconds without telemetry after which the link counts as lost."""
        return self._watchdog_s

    # ---------------------------------------------------------------- lifecycle

    async def open(self) -> None:
        """Find, connect, stop a moving belt, start the watchdog; closed again on failure."""
        if self._state == "closed":
            raise RuntimeError("this Treadmill was closed; create a new one to connect again")
        if self._state == "open":
            raise RuntimeError("this Treadmill is already open")
        self._state = "open"
        try:
            await self._open()
        except BaseException:
            await self.close()
            raise

    async def _open(self) -> None:
        machine = self._machine
        if isinstance(self._target, str):
            self._device, advertised = await find_treadmill(
                self._target, self._scan_timeout, scanner_kwargs=self._scanner_kw()
            )
            machine.name = advertised or self._target
        else:
            self._device = self._target
        machine.address = self._device.address
        if self._given_profile is None:
            machine.profile = match_device_profile(machine.name, self._profiles)
        await self._connect(self._connect_attempts)
        self._feed.restart_silence()
        await self._stop_if_moving()
        self._spawn(self._watchdog(), "treadmill-watchdog")

    async def _stop_if_moving(self) -> None:
        """Rule 12: on connect, read the belt; a moving belt is stopped and seen at rest.

        A previous controller may have died with the belt running. The first
        record (bounded by the watchdog) tells; a moving belt gets Stop and must
        read 0 within ``CONNECT_STOP_S``, otherwise the connection is refused.
        """
        loop = asyncio.get_running_loop()
        feed = self._feed
        if feed.latest is None:
            await feed.next_record(self._watchdog_s)
        latest = feed.latest
        if latest is not None and (latest.speed or 0) <= _AT_REST:
            return
        await self._procedures.stop_belt()  # moving, or not seen: stop it either way
        deadline = loop.time() + CONNECT_STOP_S
        while loop.time() < deadline:
            latest = feed.latest
            if latest is not None and (latest.speed or 0) <= _AT_REST:
                feed.note(f"{self._machine.name}'s belt was moving at connect: stopped it first")
                return
            await feed.next_record(deadline - loop.time())
        latest = feed.latest
        if latest is None:
            return  # no telemetry at all: the watchdog deals with a silent machine
        raise LinkError(
            f"{self._machine.name}'s belt is moving ({(latest.speed or 0) / 100:.1f} km/h) and"
            f" did not stop within {CONNECT_STOP_S:g} s of a Stop: refusing to start"
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
        name = self._machine.name
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
                self._device or self._machine.address,
                disconnected_callback=self._on_disconnect,
                timeout=self._connect_timeout,
                **self._client_kw(),
            )
            try:
                try:
                    async with asyncio.timeout(self._connect_timeout * 2):
                        await client.connect()
                    self._connection.attach(client)
                    async with asyncio.timeout(self._connect_timeout * 2):
                        await self._setup(client)
                except BLUETOOTH_ERRORS as exc:
                    raise link_error(exc, "Bluetooth") from exc
            except NoAdapterError:
                raise
            except (LinkError, CommandTimeout) as exc:
                last = exc  # a setup procedure never answered is a failed attempt, too
                log.info("connect attempt %d to %s failed: %s", attempt + 1, name, exc)
                with contextlib.suppress(Exception):
                    await client.disconnect()
                self._connection.detach()
                continue
            self._connection.established()
            return
        raise LinkLost(f"could not connect to {name} after {attempts} attempt(s): {last}")

    async def _setup(self, client: BleakClient) -> None:
        machine = self._machine
        self._feed.new_connection()
        if machine.feature is None:
            machine.device_info = await self._read_device_information(client)
            if self._given_profile is None and machine.device_info is not None:
                machine.profile = match_device_profile(
                    machine.name, self._profiles, info=machine.device_info.describe()
                )
            machine.feature = FitnessMachineFeature.from_bytes(
                await client.read_gatt_char(FITNESS_MACHINE_FEATURE_UUID)
            )
            machine.speed_range = await self._read_range(
                client, SUPPORTED_SPEED_RANGE_UUID, SpeedRange
            )
            machine.incline_range = await self._read_range(
                client, SUPPORTED_INCLINATION_RANGE_UUID, InclinationRange
            )
            self._note_speed_unit()
        for uuid, callback in self._subscriptions:
            await client.start_notify(uuid, callback)
        await self._procedures.take_control()

    def _note_speed_unit(self) -> None:
        """Say so when the control point takes mph: its speeds are a mph grid, and
        its lowest is the mph minimum (0.5 mph is 0.81 km/h, not 0.80)."""
        command = self._machine.speed_command
        if command.unit != "mph":
            return
        low, high, _step = command.limits
        self._feed.note(
            f"{self._machine.name} takes speed commands in mph (the"
            f" '{self._machine.profile.name}' device profile): sent in steps of"
            f" {command.step / 100:.2f} mph from {command.minimum / 100:.2f} mph, which is"
            f" {low / 100:.2f} to {high / 100:.2f} km/h"
        )

    async def _read_device_information(self, client: BleakClient) -> DeviceInformation | None:
        """The DIS strings the machine exposes (``None`` without the service); a
        string that cannot be read is left out, never a reason to refuse."""
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
                log.info("could not read %s of %s: %s", key, self._machine.name, exc)
        return DeviceInformation(**values)

    async def _read_range(
        self,
        client: BleakClient,
        uuid: str,
        kind: type[SpeedRange] | type[InclinationRange],
    ) -> Any:
        if client.services.get_characteristic(uuid) is None:
            return None
        value = kind.from_bytes(await client.read_gatt_char(uuid))
        if value.minimum == value.maximum == value.step == 0:
            what = "speed" if kind is SpeedRange else "inclination"
            self._feed.note(
                f"{self._machine.name} reports an all-zero {what} range; using the "
                f"'{self._machine.profile.name}' device profile's range instead"
            )
            return None
        return value

    async def close(self) -> None:
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
                if self._connection.connected:
                    await self._procedures.stop_belt()
        except (TimeoutError, Exception) as exc:  # noqa: BLE001 - shutdown must go on
            log.warning("could not confirm the belt stop on %s: %s", self._machine.name, exc)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._reconnecting is not None:
                self._reconnecting.cancel()
            client = self._connection.close()
            if client is not None:
                with contextlib.suppress(Exception):  # best effort: the end goes on
                    async with asyncio.timeout(_STOP_TIMEOUT_S):
                        await client.disconnect()
            self._feed.close()

    # ----------------------------------------------------------- link recovery

    def _on_disconnect(self, client: BleakClient) -> None:
        if self._closing or not self._connection.is_current(client):
            return  # a client given up on (its host replaced) may report late
        # A procedure waiting on this client fails now; a link still being set up
        # fails that connect attempt, and _connect goes on.
        if not self._connection.lost():
            return
        self._feed.emit(TreadmillEventKind.LINK_LOST, detail="disconnected")
        self._start_reconnect()

    async def _watchdog(self) -> None:
        """No telemetry for ``watchdog_s`` while connected: treat the link as lost.

        It sleeps until the silence would pass ``watchdog_s`` (a record meanwhile
        moves that moment on), not in fixed quarters: a stall is seen as soon as
        before, and a healthy link wakes it about once per ``watchdog_s``, not four
        times (a small computer's CPU per session minute).
        """
        margin = self._watchdog_s / 20
        wait = self._watchdog_s / 4
        while True:
            await asyncio.sleep(max(wait, margin))  # never a zero sleep (looptime)
            if self._closing:
                return
            if not self._connection.connected:
                wait = self._watchdog_s / 4
                continue
            silent = self._feed.silent_for()
            wait = self._watchdog_s - silent + margin
            if silent > self._watchdog_s:
                wait = self._watchdog_s / 4
                self._feed.emit(
                    TreadmillEventKind.STALLED, detail=f"no telemetry for {silent:.1f} s"
                )
                latest = self._feed.latest
                self._stalls = self._stalls + 1 if latest is self._last_stalled_on else 1
                self._last_stalled_on = latest
                if self._stalls > _SILENT_RECONNECTS:
                    self._feed.emit(
                        TreadmillEventKind.LINK_FAILED,
                        detail=f"no telemetry after {_SILENT_RECONNECTS} reconnects",
                    )
                    return
                self._connection.lost()
                self._feed.emit(TreadmillEventKind.LINK_LOST, detail="telemetry stalled")
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
            self._feed.emit(TreadmillEventKind.LINK_FAILED, detail="reconnect timed out")
        except Exception as exc:  # never a silent end of the recovery
            log.info("reconnect crashed", exc_info=True)  # the event says it; no traceback
            self._feed.emit(TreadmillEventKind.LINK_FAILED, detail=f"reconnect failed: {exc!r}")

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
        old = self._connection.detach()
        self._procedures.forget_control()
        new_host = self._link is not None and self._link.reopens
        if old is not None and drop_first and not new_host:
            with contextlib.suppress(Exception):  # best effort: a new link comes next
                async with asyncio.timeout(_STOP_TIMEOUT_S):
                    await old.disconnect()
        try:
            await self._connect(self._reconnect_attempts, new_host=new_host)
        except LinkError as exc:
            self._feed.emit(TreadmillEventKind.LINK_FAILED, detail=str(exc))
            return True
        self._feed.restart_silence()
        try:
            await self._procedures.stop_belt()
        except (CommandRejected, CommandTimeout, LinkError) as exc:
            if self._closing or self._connection.is_down:
                return self._closing  # lost again: the while in _reconnect goes round
            self._feed.emit(
                TreadmillEventKind.LINK_RESTORED, detail=f"reconnected; stop failed: {exc}"
            )
            return True
        if self._connection.is_down and not self._closing:
            return False  # Stop answered, but the link dropped right after
        self._feed.emit(TreadmillEventKind.LINK_RESTORED, detail="reconnected and stopped the belt")
        return True

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
