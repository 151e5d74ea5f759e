"""Procedures: the control-point exchange, one request at a time, and its results.

This part owns the FTMS control state as the client knows it (``controlled``,
``started``, ``belt_stopped``), the lock that keeps one request in flight, the
response each request waits for, and the command log every request reports to.
A request is written, and the indication naming its op code is awaited, bounded by
the command timeout; a link that drops meanwhile fails it at once with
``LinkLost`` (a lost write is never answered). A result other than success is
``CommandRejected``; Bluetooth failures become retrorun's errors by the table in
``retrorun.ble``.

Fitness Machine Status notifications live here too: they are the treadmill's side
of control (a person stopped or started the belt, took control back, pulled the
safety key), and a machine may echo our own Stop or Start as "by the user", which
only this part can tell by when it sent them.

Speed and incline take a ``SafeCommand`` only: the governor in ``retrorun.safety``
is the one producer of those. A speed goes out in the machine's own unit and on
its own grid (``retrorun.devices.SpeedCommand``: 0.01 mph on a ``speed_in_mph``
machine), rounded down, so never over what the governor approved; the governor
works within the same grid (``Machine.speed_limits``), so its lowest approval is
the machine's lowest speed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from bleak import BleakClient

from retrorun.ble import BLUETOOTH_ERRORS, command_error
from retrorun.errors import CommandError, CommandRejected, CommandTimeout, LinkLost
from retrorun.ftms import (
    FITNESS_MACHINE_CONTROL_POINT_UUID,
    ControlOp,
    ControlRequest,
    ControlResponse,
    FtmsDecodeError,
    MachineStatus,
    ResultCode,
    StatusOp,
    StopOrPause,
)
from retrorun.safety import SafeCommand
from retrorun.tasks import cancel_and_wait
from retrorun.treadmill._connection import Connection
from retrorun.treadmill._data import CommandLog, Machine, TreadmillEventKind
from retrorun.treadmill._telemetry import TelemetryFeed

__all__ = ["Procedures"]

log = logging.getLogger(__name__)

_ECHO_S: Final = 3.0  # a status this soon after our own stop/start is its echo


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


_OPPOSITE: Final[dict[int, int]] = {
    ControlOp.STOP_OR_PAUSE: ControlOp.START_OR_RESUME,
    ControlOp.START_OR_RESUME: ControlOp.STOP_OR_PAUSE,
}


@dataclass(slots=True)
class _Pending:
    op: int
    future: asyncio.Future[ControlResponse]


class Procedures:
    """One treadmill's control point; see the module docstring."""

    def __init__(
        self,
        machine: Machine,
        connection: Connection,
        feed: TelemetryFeed,
        *,
        command_timeout: float,
        on_command: Callable[[CommandLog], None] | None = None,
    ) -> None:
        self._machine = machine
        self._connection = connection
        self._feed = feed
        self._command_timeout = command_timeout
        self._on_command = on_command
        self._lock = asyncio.Lock()
        self._pending: _Pending | None = None
        self._sent_at: dict[int, float] = {}
        self._controlled = False
        self._started = False
        self._belt_stopped: bool | None = None
        self.console_starts = 0  # Start pressed at the console (echoes of ours excluded)
        self._speed_sent = (-1, 0)  # the last Set Target Speed: (as sent, as approved)

    @property
    def controlled(self) -> bool:
        """Request Control succeeded, and the machine has not taken control back."""
        return self._controlled

    @property
    def started(self) -> bool:
        """Start was acknowledged and nothing has stopped or paused the belt since."""
        return self._started

    @property
    def belt_stopped(self) -> bool | None:
        """True: the last Stop was acknowledged; False: a speed sent since, or the Stop
        refused; None: neither yet."""
        return self._belt_stopped

    def set_command_log(self, callback: Callable[[CommandLog], None] | None) -> None:
        """Where every control-point procedure is reported (the session record)."""
        self._on_command = callback

    def forget_control(self) -> None:
        """A new link: neither control nor a started belt carries over."""
        self._controlled = False
        self._started = False

    # --------------------------------------------------------------- procedures

    async def take_control(self) -> None:
        """Request Control, where the machine has it; a refusal is a note, not an end."""
        if self._machine.profile.has("rejects_request_control"):
            self._controlled = False
            return
        try:
            await self._procedure(ControlRequest.request_control())
        except CommandRejected as exc:
            self._feed.note(
                f"{self._machine.name} refused Request Control ({exc}); continuing without it"
            )
            self._controlled = False
        else:
            self._controlled = True

    async def start(self) -> None:
        """Start or resume the belt.

        A paused machine resumes at its target from before the pause: send the
        approved speed first (``set_speed``), then start. "Operation failed" is
        what a spec-strict machine answers when it already runs (FTMS 4.16.2.22):
        harmless, and the session judges by the belt (a belt that does not follow
        is ``CommandIgnored`` when it settles).
        """
        await self._repeatable(ControlRequest.start_or_resume(), "already running")
        self._started = True

    async def pause(self) -> None:
        """Pause the belt (FTMS Stop or Pause, parameter pause)."""
        await self._repeatable(ControlRequest.pause(), "nothing to pause")
        self._started = False

    async def stop_belt(self) -> bool:
        """Command the belt to stop; True when the treadmill acknowledged it (an
        "operation failed" for a belt already stopped counts: telemetry tells)."""
        try:
            await self._repeatable(ControlRequest.stop(), "already stopped")
        except CommandRejected:
            self._belt_stopped = False
            raise
        self._started = False
        self._belt_stopped = True
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
        try:
            # The machine's own unit and grid, rounded down: never over the approval.
            raw = self._machine.speed_command.to_wire(command.value)
        except ValueError as exc:
            # Only a speed over the approved one could go out: none does.
            op = _op_name(ControlOp.SET_TARGET_SPEED)
            self._log_command(op, command.value / 100, "not sent: under the lowest speed")
            raise CommandError(ControlOp.SET_TARGET_SPEED, f"{op} not sent: {exc}") from None
        if self._machine.profile.has("needs_start_before_speed") and not self._started:
            await self.start()
        await self._procedure(ControlRequest.set_target_speed(raw), command.value / 100)
        self._belt_stopped = False
        self._speed_sent = (raw, command.value)

    async def set_incline(self, command: SafeCommand) -> None:
        """Send a governor-approved inclination (0.1 %)."""
        if not isinstance(command, SafeCommand) or command.kind != "incline":
            raise TypeError("set_incline takes an incline SafeCommand from the safety governor")
        await self._procedure(
            ControlRequest.set_target_inclination(command.value), command.value / 10
        )

    async def _procedure(
        self, request: ControlRequest, value: float | None = None
    ) -> ControlResponse:
        """Write one request, await the indication that names it, check the result."""
        loop = asyncio.get_running_loop()
        op_name = _op_name(request.op)
        name = self._machine.name
        async with self._lock:
            client = self._connection.client()
            # Machines echo our own stop/start as a "by the user" status: remember
            # what we asked so the echo is not taken for a person at the console.
            self._sent_at[request.op] = loop.time()
            opposite = _OPPOSITE.get(request.op)
            if opposite is not None:
                self._sent_at.pop(opposite, None)  # a status that way is never its echo now
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
                    f"{op_name} failed on {name}",
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
                raise LinkLost(f"{op_name} on {name}: the link dropped") from None
            finally:
                self._pending = None
        result = _result_name(response.result)
        self._log_command(op_name, value, result)
        if not response.succeeded:
            if response.result == ResultCode.CONTROL_NOT_PERMITTED and request.op != 0:
                self._controlled = False
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
        name = self._machine.name
        if self._connection.is_down:
            raise LinkLost(f"{_op_name(request.op)} on {name}: the link is down")

        async def write_and_wait() -> ControlResponse:
            await client.write_gatt_char(
                FITNESS_MACHINE_CONTROL_POINT_UUID, bytes(request), response=True
            )
            return await future

        work = asyncio.ensure_future(write_and_wait())
        down = asyncio.ensure_future(self._connection.wait_down())
        try:
            await asyncio.wait({work, down}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            down.cancel()
            # Never suppress(CancelledError) around await work: it would swallow the
            # caller's own cancellation arriving meanwhile (retrorun.tasks).
            await cancel_and_wait(work)
        if work.cancelled() or not work.done():
            raise LinkLost(f"{_op_name(request.op)} on {name}: the link dropped")
        return work.result()

    def _log_command(self, op: str, value: float | None, result: str) -> None:
        if self._on_command is not None:
            entry = CommandLog(asyncio.get_running_loop().time(), op, value, result)
            self._on_command(entry)

    # ------------------------------------------------------------ notifications

    def on_indication(self, data: bytearray) -> None:
        """A control-point indication: the response the pending request waits for."""
        try:
            response = ControlResponse.from_bytes(data)
        except (FtmsDecodeError, ValueError) as exc:
            self._feed.emit(TreadmillEventKind.GARBAGE, detail=f"control point: {exc}")
            return
        pending = self._pending
        if pending is None or pending.op != response.request_op or pending.future.done():
            log.info("unexpected control point response %s", response)
            return
        pending.future.set_result(response)

    def on_status(self, data: bytearray) -> None:
        """A Fitness Machine Status notification: an event, and what it changes."""
        try:
            status = MachineStatus.from_bytes(data)
        except (FtmsDecodeError, ValueError) as exc:
            self._feed.emit(TreadmillEventKind.GARBAGE, detail=f"status: {exc}")
            return
        echo_of = _ECHOES.get(status.op)  # type: ignore[call-overload]
        now = asyncio.get_running_loop().time()
        if echo_of is not None:
            if now - self._sent_at.get(echo_of, float("-inf")) < _ECHO_S:
                # One echo per command: a second "by the user" is a person.
                del self._sent_at[echo_of]
                self._feed.emit(
                    TreadmillEventKind.OTHER_STATUS, status.value, detail="echo of our command"
                )
                return
            # A person stopped or started the belt: a later status the other way is
            # theirs too, never the echo of a command of ours from before.
            self._sent_at.pop(_OPPOSITE[echo_of], None)
        if status.op == StatusOp.STOPPED_OR_PAUSED_BY_USER:
            kind = (
                TreadmillEventKind.PAUSED_BY_USER
                if status.value == StopOrPause.PAUSE
                else TreadmillEventKind.STOPPED_BY_USER
            )
            self._started = False
        else:
            kind = _STATUS_KINDS.get(status.op, TreadmillEventKind.OTHER_STATUS)  # type: ignore[call-overload]
        if kind in {TreadmillEventKind.CONTROL_LOST, TreadmillEventKind.RESET}:
            self._controlled = False
        if kind is TreadmillEventKind.SAFETY_KEY:
            self._started = False
        if kind is TreadmillEventKind.STARTED_BY_USER:
            # Counted, and a waiter on the next record looks again now: a person
            # restarted the belt, which its next record would show a second late.
            self.console_starts += 1
            self._feed.wake()
        value = status.value
        if kind is TreadmillEventKind.TARGET_SPEED_CHANGED and value is not None:
            sent, approved = self._speed_sent
            # The echo of our own target is the speed approved, not its round trip
            # through a mph grid (0.81 km/h went out as 0.50 mph, which reads 0.80).
            value = approved if value == sent else self._machine.speed_command.to_kmh(value)
        self._feed.emit(kind, value, detail=f"status 0x{status.op:02X}")
