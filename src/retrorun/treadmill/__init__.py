"""The treadmill client: discovery, control procedures, telemetry, quirks, link loss.

It uses only bleak's ``BleakClient``/``BleakScanner`` API, so it is the same code
against a real adapter and against the simulator; only the bleak *backend* differs
(``retrorun.ble.open_link``). Given that link (``link=``, a :class:`ReopenableLink`),
every reconnect attempt asks it for a new host first: over an HCI transport a
frozen, dead or restarted peer leaves bumble's old host wedged.

``async with Treadmill(...)`` connects and takes control; leaving it, normally, by
exception or by cancellation, commands the belt to stop (shielded from
cancellation, bounded in time) and disconnects. A closed Treadmill does not reopen.

:class:`Treadmill` is a thin façade over three parts, each owning its own state:

* **procedures** (``_procedures``): the control-point exchange, one request at a
  time, its results and the command log; the machine's status notifications.
  Speed and incline take a ``SafeCommand`` only (the governor makes those).
* **telemetry** (``_telemetry``): Treadmill Data notifications reassembled into
  records, the record and event streams, ``latest``, ``next_record``, the belt
  settling, and truncated frames (Matrix consoles) read as far as they go.
* **supervisor** (``_supervisor``): connect with retries, the Device Information
  read on the first connect, the watchdog, the reconnect that sends Stop first,
  the link-down and link-up events, and the belt stopped at the end.

They share :class:`~retrorun.treadmill._data.Machine` (who the treadmill is, which
the supervisor writes) and a ``Connection`` (the current client, up and down, which
the supervisor changes), and call one another only through methods. bleak's
notification callbacks enter here (``_on_data``, ``_on_indication``,
``_on_status``) and go to the part that owns them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice

from retrorun.devices import DeviceProfile, match_device_profile
from retrorun.ftms import (
    FITNESS_MACHINE_CONTROL_POINT_UUID,
    FITNESS_MACHINE_STATUS_UUID,
    TREADMILL_DATA_UUID,
    DeviceInformation,
    FitnessMachineFeature,
    InclinationRange,
    SpeedRange,
)
from retrorun.limits import WATCHDOG_S
from retrorun.safety import SafeCommand
from retrorun.treadmill._connection import Connection
from retrorun.treadmill._data import (
    CommandLog,
    Machine,
    ReopenableLink,
    Telemetry,
    TreadmillEvent,
    TreadmillEventKind,
)
from retrorun.treadmill._discovery import FoundTreadmill, find_treadmill, scan_treadmills
from retrorun.treadmill._procedures import Procedures
from retrorun.treadmill._supervisor import CONNECT_STOP_S as CONNECT_STOP_S
from retrorun.treadmill._supervisor import Supervisor
from retrorun.treadmill._telemetry import TelemetryFeed

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
        self._machine = Machine(
            name=device if isinstance(device, str) else (device.name or device.address),
            address="" if isinstance(device, str) else device.address,
            profile=profile or match_device_profile(None, profiles),
        )
        self._connection = Connection(self._machine)
        self._feed = TelemetryFeed(self._machine)
        self._procedures = Procedures(
            self._machine,
            self._connection,
            self._feed,
            command_timeout=command_timeout,
            on_command=on_command,
        )
        self._supervisor = Supervisor(
            self._machine,
            self._connection,
            self._feed,
            self._procedures,
            target=device,
            subscriptions=(
                (FITNESS_MACHINE_CONTROL_POINT_UUID, self._on_indication),
                (TREADMILL_DATA_UUID, self._on_data),
                (FITNESS_MACHINE_STATUS_UUID, self._on_status),
            ),
            link=link,
            client_kwargs=client_kwargs,
            scanner_kwargs=scanner_kwargs,
            given_profile=profile,
            profiles=profiles,
            scan_timeout=scan_timeout,
            connect_timeout=connect_timeout,
            connect_attempts=connect_attempts,
            reconnect_attempts=reconnect_attempts,
            watchdog_s=watchdog_s,
        )
        # The two streams a session reads (the telemetry part fills them).
        self._telemetry = self._feed.records
        self._events = self._feed.events

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Treadmill:
        await self._supervisor.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._supervisor.close()

    # ------------------------------------------------------- who the machine is

    @property
    def name(self) -> str:
        """The advertised name (or what it was asked for by, before the scan)."""
        return self._machine.name

    @property
    def address(self) -> str:
        """The Bluetooth address ("" before the scan found it)."""
        return self._machine.address

    @property
    def profile(self) -> DeviceProfile:
        """The device profile in use: given, or matched by Device Information or name."""
        return self._machine.profile

    @property
    def feature(self) -> FitnessMachineFeature | None:
        """The Fitness Machine Feature read on the first connect."""
        return self._machine.feature

    @property
    def device_info(self) -> DeviceInformation | None:
        """The Device Information strings read on the first connect, where there are some."""
        return self._machine.device_info

    @property
    def speed_range(self) -> SpeedRange | None:
        """The machine's Supported Speed Range (``None``: absent or all zero)."""
        return self._machine.speed_range

    @property
    def incline_range(self) -> InclinationRange | None:
        """The machine's Supported Inclination Range (``None``: absent or all zero)."""
        return self._machine.incline_range

    @property
    def speed_limits(self) -> tuple[int, int, int]:
        """(min, max, step) in 0.01 km/h: the machine's, or the profile's when distrusted."""
        return self._machine.speed_limits

    @property
    def incline_limits(self) -> tuple[int, int, int]:
        """(min, max, step) in 0.1 %: the machine's, or the profile's when distrusted."""
        return self._machine.incline_limits

    @property
    def device_max_speed(self) -> int:
        """The maximum speed the session's ceiling is capped by (0.01 km/h)."""
        return self._machine.speed_limits[1]

    # ----------------------------------------------------------------- the link

    @property
    def connected(self) -> bool:
        """The link is up (as far as bleak knows)."""
        return self._connection.connected

    @property
    def watchdog_s(self) -> float:
        """Seconds without telemetry after which the link counts as lost."""
        return self._supervisor.watchdog_s

    # --------------------------------------------------------------- procedures

    @property
    def controlled(self) -> bool:
        """Request Control succeeded, and the machine has not taken control back."""
        return self._procedures.controlled

    @property
    def started(self) -> bool:
        """Start was acknowledged and nothing has stopped or paused the belt since."""
        return self._procedures.started

    @property
    def belt_stopped(self) -> bool | None:
        """True: the last Stop was acknowledged; False: a speed sent since, or the Stop
        refused; None: neither yet."""
        return self._procedures.belt_stopped

    async def start(self) -> None:
        """Start or resume the belt (after ``set_speed`` on a paused machine)."""
        await self._procedures.start()

    async def pause(self) -> None:
        """Pause the belt (FTMS Stop or Pause, parameter pause)."""
        await self._procedures.pause()

    async def stop_belt(self) -> bool:
        """Command the belt to stop; True when the treadmill acknowledged it."""
        return await self._procedures.stop_belt()

    async def set_speed(self, command: SafeCommand) -> None:
        """Send a governor-approved speed (0.01 km/h); mph machines get 0.01 mph."""
        await self._procedures.set_speed(command)

    async def set_incline(self, command: SafeCommand) -> None:
        """Send a governor-approved inclination (0.1 %)."""
        await self._procedures.set_incline(command)

    def set_command_log(self, callback: Callable[[CommandLog], None] | None) -> None:
        """Where every control-point procedure is reported (the session record)."""
        self._procedures.set_command_log(callback)

    # ---------------------------------------------------------------- telemetry

    @property
    def latest(self) -> Telemetry | None:
        """The newest telemetry record, or ``None`` before the first."""
        return self._feed.latest

    @property
    def truncating(self) -> bool:
        """Treadmill Data arrives cut at 20 bytes (seen, or the profile's quirk)."""
        return self._feed.truncating

    @property
    def notes(self) -> list[str]:
        """What the client learned of the machine, in plain words."""
        return self._feed.notes

    async def wait_for_speed(self, target: int, timeout: float | None = None) -> bool:
        """Wait for the belt to settle at ``target`` (0.01 km/h) within 0.2 km/h:
        True settled, False still on its way; ``CommandIgnored`` when it did not move."""
        return await self._feed.wait_for_speed(target, timeout)

    async def next_record(self, timeout: float) -> None:
        """Wait for the next telemetry record, at most ``timeout`` seconds (a person
        pressing Start at the console ends the wait too)."""
        await self._feed.next_record(timeout)

    @property
    def console_starts(self) -> int:
        """How often Start was pressed at the console (echoes of ours excluded)."""
        return self._procedures.console_starts

    def telemetry(self) -> AsyncIterator[Telemetry]:
        """Reassembled Treadmill Data records, in order, until the Treadmill closes."""
        return aiter(self._telemetry)

    def events(self) -> AsyncIterator[TreadmillEvent]:
        """Status notifications and link events, until the Treadmill closes."""
        return aiter(self._events)

    # ------------------------------------------- bleak's callbacks, to their part

    def _on_indication(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        self._procedures.on_indication(data)

    def _on_data(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        self._feed.on_data(data)

    def _on_status(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        self._procedures.on_status(data)
