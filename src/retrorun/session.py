"""The guided session: one TaskGroup that runs a plan safely to a stopped belt.

Tasks (named): ``scheduler`` steps through the plan on loop-clock deadlines;
``monitor`` reads every telemetry record, asks the governor how to react, records
it and publishes the state; ``events`` handles what the treadmill reports (safety
key, console buttons, link loss); ``controls`` applies pause/resume/stop/adjust
requests from the keyboard, MQTT or the API. Sinks read the bus and run beside.

Every speed and incline command goes through ``SafetyGovernor``; this module
never builds a command itself. Every way out (completion, stop, safety stop,
signal, a crashed task) ends in a shielded, bounded belt stop, and the record's
``end`` line says whether the stop was acknowledged and whether telemetry then
showed the belt at rest.

No task dies silently: a task that ends while the session goes on (a stray
cancellation included) ends the session, with the belt stopped. A stop or a
signal is served by a task of its own (``ender``) that never waits on anything
else.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from retrorun.bus import EventBus
from retrorun.energy import kcal_per_min
from retrorun.errors import (
    CommandError,
    CommandIgnored,
    CommandRejected,
    LinkError,
    RetrorunError,
    SafetyStop,
)
from retrorun.events import (
    BeltHalted,
    CeilingClamped,
    CeilingViolation,
    CommandAck,
    CommandRefused,
    ConfirmNeeded,
    ConsoleChange,
    DeviceIgnoredCommand,
    Direction,
    HeartRateHigh,
    LinkDown,
    LinkRestored,
    Paused,
    RemoteCommand,
    Resumed,
    SafetyKeyPulled,
    SafetyStopped,
    SessionEnded,
    SessionEvent,
    SessionStarted,
    SessionState,
    SinkWarning,
    SpeedAdjusted,
    SpeedRefused,
    Status,
    StepInfo,
    StepStarted,
    TreadmillNote,
    TurnaroundConfirmed,
    TurnaroundPhase,
    UserStopped,
)
from retrorun.ftms import ResultCode
from retrorun.hr import HeartRateGuide, HeartRateStrap
from retrorun.limits import INCLINE_TOLERANCE, RAMP_INTERVAL_S, RAMP_STEP, to_kmh
from retrorun.programs import Plan, PlanStep
from retrorun.record import Recorder
from retrorun.safety import (
    RUNDOWN_GRACE_S,
    Reaction,
    ReactionKind,
    SafeCommand,
    SafetyGovernor,
)
from retrorun.tasks import cancel_and_wait
from retrorun.treadmill import CommandLog, Telemetry, Treadmill, TreadmillEvent, TreadmillEventKind

__all__ = ["EndReason", "Session", "SessionResult"]

log = logging.getLogger(__name__)

_RESUME_HOLD_S: Final = 5.0  # unattended: wait this long before resuming after a pause
_STOP_SEEN_MAX_S: Final = 15.0  # at the end: wait at most this long to see the belt at rest
_STOP_RESENDS: Final = 10  # at the end: a belt that speeds up again gets Stop again, this often
_STOP_WATCH_MAX_S: Final = 30.0  # ... while the end watches it, never longer than this
_LINK_WAIT_S: Final = 30.0  # a send that lost the link waits this long for the reconnect
_EPSILON_S: Final = 1e-3  # a deadline this close has arrived (clocks round)
_CONFIRM_MARGIN_S: Final = 0.2  # a correction's record may be this late past its period
_RESTART_STOP_S: Final = 10.0  # a belt restarted at the console after the end's Stop
_TURN_END_MISSES: Final = 3  # watchdog periods without a record before a turn gives up
_MIN_WAIT_S: Final = 0.01  # shortest wait in a polling loop (never spin on a rounding clock)
_T = TypeVar("_T")


class EndReason(enum.StrEnum):
    """Why a session ended (the record's ``end.reason``)."""

    COMPLETED = "completed"
    USER_STOP = "user_stop"
    SAFETY_STOP = "safety_stop"
    SAFETY_KEY = "safety_key"
    LINK_LOST = "link_lost"
    SIGNAL = "signal"
    ERROR = "error"


class _End(Exception):
    def __init__(self, reason: EndReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _in_words(exc: BaseException) -> str:
    """An error as the runner reads it: what happened and what to do, not op codes."""
    if isinstance(exc, CommandRejected) and exc.result == ResultCode.CONTROL_NOT_PERMITTED:
        return (
            "the treadmill refused remote control: on many machines you must press Start"
            " or enable Bluetooth control on the console first, then start the session again"
        )
    return str(exc)


class _TaskEnded(Exception):
    """A session task ended (or was cancelled) while the session was still running."""


@dataclass(frozen=True, slots=True)
class SessionResult:
    """How the session ended, and the totals the ``end`` line carries."""

    reason: EndReason
    message: str
    belt_stopped: bool  # telemetry showed the belt at rest after the stop
    duration_s: float
    distance_m: float
    backward_s: float
    energy_kcal: float
    stop_acknowledged: bool = False  # the treadmill acknowledged the stop command
    over_ceiling_s: float = 0.0  # seconds the belt ran over the ceiling, facing back
    backward_m: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 completed, 1 ended early; signals are mapped by the command line."""
        return 0 if self.reason is EndReason.COMPLETED else 1


class Session:
    """Runs one plan on one treadmill. Implements ``LocalControls`` for the sinks."""

    def __init__(
        self,
        plan: Plan,
        treadmill: Treadmill,
        governor: SafetyGovernor,
        *,
        bus: EventBus,
        recorder: Recorder,
        program_name: str,
        attended: bool,
        weight_kg: float = 70.0,
        resume_hold_s: float = _RESUME_HOLD_S,
        strap: HeartRateStrap | None = None,
        hr_guide: HeartRateGuide | None = None,
    ) -> None:
        self.plan = plan
        self.strap = strap  # a heart-rate strap: its reading wins over the treadmill's
        self.hr_guide = hr_guide  # heart-rate steps: sets their target (the governor decides)
        self.treadmill = treadmill
        self.governor = governor
        self.bus = bus
        self.recorder = recorder
        self.program_name = program_name
        self.attended = attended
        self.weight_kg = weight_kg
        self.resume_hold_s = resume_hold_s

        self.status = Status.IDLE
        self.step_index = 0
        self.step_deadline: float | None = None
        self.step_label = ""
        self.target = 0  # the current step's target speed, 0.01 km/h
        self.adjust = 0  # the runner's +/- nudge on top of it
        self.distance_m = 0.0
        self.backward_s = 0.0
        self.backward_m = 0.0
        self.over_ceiling_s = 0.0
        self.energy_kcal = 0.0
        self.origin = 0.0
        self._distance_base: float | None = None
        self._last_sample: Telemetry | None = None
        self._rise_per_s = 0.0  # how fast the belt rose between its last two records
        self._last_direction = Direction.FORWARD  # the direction of the last record
        self._speed_at_loss: int | None = None  # the belt's bound while the link is down
        self._seen_at_loss: Telemetry | None = None  # ... its last record before the loss
        self._told_at_loss = 0  # ... and what it was told then
        self._observed = asyncio.Event()  # pulsed once the governor judged a record
        self._first_step_t: float | None = None  # session time of the first step's start

        self._controls: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self._confirmed = asyncio.Event()
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._wake = asyncio.Event()  # the scheduler re-evaluates speed when set
        self._paused_evt = asyncio.Event()  # set while paused: waits give way to it
        self._unsettled = False  # the belt must come up to speed before the step's clock runs
        self._tasks: asyncio.TaskGroup | None = None
        self._resuming: asyncio.Task[None] | None = None
        self._step_left = 0.0  # what is left of the step when its clock next starts
        self._end: _End | None = None
        self._ending = asyncio.Event()  # a stop or a signal: served by the ender task
        self._running = False  # the TaskGroup is up: a task that ends now is a failure
        self._refused: tuple[int, int] | None = None  # (step, speed) already reported
        self.stop_acknowledged = False
        self.belt_seen_stopped = False
        self._stop_sent_at = math.inf

    # ------------------------------------------------------------ LocalControls

    def request(self, command: RemoteCommand, *, source: str) -> bool:
        """Queue pause, resume or stop; answers whether it can apply now."""
        if command == "stop":
            accepted = self.status is not Status.STOPPED
        elif command == "pause":
            accepted = self.status in {Status.RUNNING, Status.TURNING}
        elif command == "resume":
            # Not while the link is down: the link's own restore asks for the resume.
            accepted = (
                self.status is Status.PAUSED
                and not self._resume_pending
                and self.treadmill.connected
            )
        else:  # anything else is refused, whatever a sink passes in
            accepted = False  # type: ignore[unreachable]
        if accepted:
            if command == "pause":
                # Paused from this moment: no step may ramp the belt up meanwhile.
                self._pause_state()
            if command == "resume":
                self._start_resume(after_link=False)
            elif command == "stop":
                # Never behind anything else: the ender serves it at once.
                self._emit(UserStopped(t=self._t(), message="Stopping the belt: the session ends."))
                self._request_end(_End(EndReason.USER_STOP, "stopped by the runner"))
            else:
                self._controls.put_nowait((command, 0))
            self._emit(
                CommandAck(
                    t=self._t(),
                    message=f"{command} accepted from {source}",
                    command=command,
                    source=source,
                )
            )
        else:
            self._emit(
                CommandRefused(
                    t=self._t(),
                    message=f"{command} does not apply while {self._status_words()}",
                    command=command,
                    source=source,
                )
            )
        return accepted

    def adjust_speed(self, delta: int, *, source: str) -> bool:
        """Nudge the target by ``delta`` 0.01 km/h; the governor still decides."""
        if self.status is not Status.RUNNING or self.target == 0 or delta == 0:
            return False
        wanted = self.target + self.adjust + delta
        bounds = self._step_range()
        if bounds is not None and delta > 0 and wanted > bounds[1]:
            # A heart-rate step's range holds a nudge as it holds the zone's controller.
            self._emit(
                CeilingClamped(
                    t=self._t(),
                    message=f"Not faster: this heart-rate step runs at most"
                    f" {to_kmh(bounds[1]):.1f} km/h",
                    ceiling_kmh=to_kmh(self.governor.ceiling),
                    source=source,
                )
            )
            return False
        if delta > 0 and self.governor.would_clamp(wanted):
            limit = self.governor.clamp_target(wanted)
            self._emit(
                CeilingClamped(
                    t=self._t(),
                    message=f"Not faster: the limit is {to_kmh(limit):.1f} km/h",
                    ceiling_kmh=to_kmh(self.governor.ceiling),
                    source=source,
                )
            )
            return False
        if wanted <= 0:
            return False
        # Applied here, at once: a burst of presses sees each other, and the record
        # says what the governor will approve, never a wish past the ceiling.
        approved = self.governor.clamp_target(wanted)
        self.adjust = approved - self.target
        self._emit(
            SpeedAdjusted(
                t=self._t(),
                message=f"Target {to_kmh(approved):.1f} km/h.",
                target_kmh=to_kmh(approved),
            )
        )
        self._wake.set()
        return True

    def confirm(self, *, source: str) -> bool:
        """Release a turn-around or pre-flight wait (latched if it comes early)."""
        if self.status is Status.STOPPED:
            return False
        self._confirmed.set()
        return True

    def _status_words(self) -> str:
        if self.status is Status.PAUSED and not self.treadmill.connected:
            return "the link is down"
        if self._resume_pending:
            return "a resume is already waiting"
        return str(self.status)

    @property
    def paused(self) -> bool:
        """The session is paused (by a person, a remote command or link loss)."""
        return self.status is Status.PAUSED

    def warn(self, message: str) -> None:
        """A sink or the link has something to say that is not a safety event."""
        self._emit(SinkWarning(t=self._t(), message=message))

    def origin_hint(self) -> float | None:
        """Loop time of session time 0, once the session has started."""
        return self.origin or None

    # -------------------------------------------------------------------- run

    async def run(self) -> SessionResult:
        """Run the plan; always returns (the belt stop is the Treadmill's exit)."""
        loop = asyncio.get_running_loop()
        self.origin = loop.time()
        self._route_command_log()
        self._emit(
            SessionStarted(
                t=self._t(),
                message=(
                    f"{self.program_name}: backward ceiling"
                    f" {to_kmh(self.governor.ceiling):.1f} km/h"
                ),
                program=self.program_name,
                ceiling_kmh=to_kmh(self.governor.ceiling),
                steps=tuple(self._step_info(s) for s in self.plan.steps),
            )
        )
        try:
            end = await self._run_tasks()
        except asyncio.CancelledError:
            await asyncio.shield(self._stop_belt())
            self._finish(self._end or _End(EndReason.SIGNAL, "interrupted"))
            raise
        await asyncio.shield(self._stop_belt())
        return self._finish(end)

    async def _run_tasks(self) -> _End:
        """The TaskGroup; the first reason to end wins, a crash included."""
        end = _End(EndReason.ERROR, "session ended without a reason")
        try:
            async with asyncio.TaskGroup() as tg:
                self._tasks = tg
                self._running = True
                for name, work in (
                    ("ender", self._ender()),
                    ("scheduler", self._scheduler()),
                    ("monitor", self._monitor()),
                    ("events", self._treadmill_events()),
                    ("controls", self._control_loop()),
                ):
                    tg.create_task(self._supervised(name, work), name=name)
        except* _End as group:
            first_end = group.exceptions[0]
            if not isinstance(first_end, _End):
                raise TypeError(f"internal error: a session ended by {first_end!r}") from group
            end = first_end
        except* SafetyStop as group:
            end = _End(EndReason.SAFETY_STOP, str(group.exceptions[0]))
            self._emit(SafetyStopped(t=self._t(), message=end.message))
        except* RetrorunError as group:
            end = _End(EndReason.ERROR, _in_words(group.exceptions[0]))
        except* _TaskEnded as group:
            end = _End(EndReason.ERROR, f"internal error: {group.exceptions[0]}")
            log.warning("session task ended early: %s", group.exceptions[0])
        except* Exception as group:  # a crashed task: the belt still stops
            first = group.exceptions[0]
            log.exception("session task crashed", exc_info=first)
            end = _End(EndReason.ERROR, f"internal error: {first!r}")
        finally:
            self._running = False
        return end

    async def _supervised(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        """Run one session task; its end while the session goes on ends the session.

        A TaskGroup forgets a child that ends by cancellation it did not ask for
        (a library cancelling a wait on a dropped link): that is turned into an
        error here, so no task of a running session can vanish.
        """
        try:
            await work
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling() == 0 and self._running:
                raise _TaskEnded(f"task {name!r} was cancelled") from None
            raise
        if self._running:
            raise _TaskEnded(f"task {name!r} ended")

    def end(self, reason: EndReason, message: str) -> None:
        """Ask the session to end from outside (e.g. a signal handler)."""
        self._request_end(_End(reason, message))

    def _request_end(self, end: _End) -> None:
        if self._end is None:
            self._end = end
        self._ending.set()

    async def _ender(self) -> None:
        """Serves a stop or a signal at once, whatever the other tasks wait on."""
        await self._ending.wait()
        raise self._end or _End(EndReason.SIGNAL, "interrupted")

    # -------------------------------------------------------------- scheduler

    async def _scheduler(self) -> None:
        steps = self.plan.steps
        if self.attended:
            # Pre-flight: the safety key is clipped on and the space behind is clear.
            self._emit(
                ConfirmNeeded(
                    t=self._t(),
                    message="Clip on the safety key and clear the space behind you, then confirm.",
                    what="preflight",
                )
            )
            await self._confirmed.wait()
            self._confirmed.clear()
        self._first_step_t = self._t()
        for index, step in enumerate(steps):
            self.step_index = index
            self.step_label = step.label
            if step.turnaround:
                await self._turnaround(step)
            else:
                await self._run_step(step, steps[index + 1] if index + 1 < len(steps) else None)
        raise _End(EndReason.COMPLETED, f"{self.program_name} completed")

    async def _run_step(self, step: PlanStep, following: PlanStep | None) -> None:
        loop = asyncio.get_running_loop()
        await self._resumed.wait()  # a pause during a turn-around holds the next step
        self.status = Status.RUNNING
        self.adjust = 0
        self.target = step.speed
        if self.hr_guide is not None:
            self.hr_guide.begin(step, loop.time())
        if step.direction is not self.governor.direction:
            # Only the first step may change direction without a turn-around (the
            # runner mounts a stopped belt); the governor refuses it on a moving one.
            await self._change_direction(step.direction)
        self._emit(
            StepStarted(
                t=self._t(),
                message=self._step_sentence(step),
                step=self._step_info(step),
                next=self._step_info(following) if following is not None else None,
                total=len(self.plan.steps),
            )
        )
        if step.needs_confirm:
            self._confirmed.clear()  # an Enter pressed during the rest counts
        await self._set_incline(step.incline)
        self._unsettled = True
        self._step_left = step.duration_s
        deadline = math.inf  # the step's clock starts once the belt has settled
        while True:
            if self._unsettled:
                # Up to speed first, at the start and again after a pause: the step's
                # clock runs from the moment the belt has settled.
                self._unsettled = False
                settled_at = await self._reach_target()
                if self._unsettled:
                    continue  # paused again before it settled
                deadline = self.step_deadline = settled_at + self._step_left
            elif self._wake.is_set():
                self._wake.clear()
                await self._ramp_to_target(until=deadline)  # the runner nudged the speed
            remaining = deadline - loop.time()
            if remaining <= _EPSILON_S and not self._unsettled:
                break
            if self._unsettled or self._wake.is_set():
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(remaining, _MIN_WAIT_S)):
                    await self._wake.wait()
        self.step_deadline = None
        if step.needs_confirm and self.attended and following is not None:
            # A rest on a stopped belt: the belt starts again only when the runner says so.
            self._emit(
                ConfirmNeeded(
                    t=self._t(),
                    message="Rest over. Confirm when you are ready for the belt to start.",
                    what="rest",
                )
            )
            await self._confirmed.wait()
            self._confirmed.clear()

    async def _reach_target(self) -> float:
        """Ramp to the target and wait for the belt to settle: its loop time.

        A pause meanwhile gives up the wait; once resumed, it starts over.
        """
        while True:
            await self._resumed.wait()
            await self._ramp_to_target()
            settled_at = await self._until_paused(self._settle())
            if settled_at is not None and not self.paused:
                self.governor.start_settled()
                return settled_at

    async def _until_paused(self, awaitable: Coroutine[Any, Any, _T]) -> _T | None:
        """Await ``awaitable`` unless the session pauses first (then None)."""
        work = asyncio.ensure_future(awaitable)
        paused = asyncio.ensure_future(self._paused_evt.wait())
        try:
            await asyncio.wait({work, paused}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            paused.cancel()
            # Never ``suppress(CancelledError)`` around ``await work``: it would also
            # swallow the session's own cancellation arriving meanwhile (see retrorun.tasks).
            await cancel_and_wait(work)
        if work.cancelled():
            return None
        return work.result()

    async def _ramp_to_target(self, until: float = math.inf) -> None:
        """Step toward ``target + adjust`` at the governor's pace (not while paused).

        Facing backward a lower speed comes in ramp steps too: a drop of several
        km/h under a runner facing the rear is a lurch (a stop or a pause is never
        eased: those go out at once, elsewhere). A ramp whose next step would come
        at or after ``until`` (the step's end) returns: the step's clock wins, and
        the next step ramps on from wherever this one got to.
        """
        loop = asyncio.get_running_loop()
        while not self.paused:
            desired = max(self.target + self.adjust, 0)
            bounds = self._step_range()
            if bounds is not None:
                # A heart-rate step: the controller's target and the runner's nudges
                # together stay under the step's top speed (slower is the runner's
                # to ask for: a nudge down is never refused).
                desired = min(desired, bounds[1])
            commanded = self.governor.commanded
            easing = (
                self.governor.direction is Direction.BACKWARD
                and 0 < desired < commanded - RAMP_STEP
            )
            command = self.governor.request_speed(
                commanded - RAMP_STEP if easing else desired, loop.time()
            )
            if command is not None:
                if not self.treadmill.started:
                    # Some machines start on a speed command (``Procedures.set_speed``):
                    # the belt is watched from this one as from a Start.
                    self.governor.started(loop.time())
                await self._send(command)
            if self.governor.commanded > 0 and not self.treadmill.started and not self.paused:
                # Only once an approved speed is in place: a paused machine resumes
                # the target it had before the pause (the governor watches that it
                # took the speed: a machine that did not runs to a target of its own).
                self.governor.started(loop.time())
                await self._guarded(self.treadmill.start())
            reachable = self.governor.reachable(desired)
            if desired > 0 and self.governor.clamp_target(desired) == 0:
                self._refuse_under_minimum(desired)
            elif reachable < self.governor.clamp_target(desired):
                self._refuse_speed(desired, reachable)
            if self.governor.commanded == reachable or self.paused:
                return
            if self.governor.holds_for_heart_rate and self.governor.commanded < desired:
                # Heart rate high or unknown: no speed goes up, however long this
                # waits. The step runs at the speed it has (the governor lowers it
                # further if it must); waiting here would hold the program for ever.
                return
            # Never a zero sleep in this loop: a clock that rounds (looptime) would
            # make it spin.
            wait = RAMP_INTERVAL_S if easing else self.governor.next_ramp_time() - loop.time()
            if loop.time() + wait >= until:
                return
            await asyncio.sleep(max(wait, _MIN_WAIT_S))

    def _step_range(self) -> tuple[int, int] | None:
        """The running step's speed range (a heart-rate step's bounds), or None."""
        steps = self.plan.steps
        if not 0 <= self.step_index < len(steps):
            return None
        return steps[self.step_index].speed_range

    def _refuse_under_minimum(self, desired: int) -> None:
        """Say once per step that the ceiling is under the machine's lowest speed: the
        governor holds the belt still facing backward, and the runner must know why."""
        key = (self.step_index, desired)
        if self._refused == key:
            return
        self._refused = key
        lowest = self.treadmill.speed_limits[0]
        self._emit(
            SpeedRefused(
                t=self._t(),
                message=(
                    f"Holding the belt still, not {to_kmh(desired):.1f} km/h: this"
                    f" treadmill's lowest speed, {lowest / 100:.2f} km/h, is over the"
                    f" {to_kmh(self.governor.ceiling):.2f} km/h ceiling"
                ),
                speed_kmh=0.0,
                requested_kmh=to_kmh(desired),
            )
        )

    def _refuse_speed(self, desired: int, reachable: int) -> None:
        """Say once per step and speed that the device cannot get there safely."""
        key = (self.step_index, desired)
        if self._refused == key:
            return
        self._refused = key
        step = to_kmh(self.treadmill.speed_limits[2])
        self._emit(
            SpeedRefused(
                t=self._t(),
                message=(
                    f"Holding {to_kmh(reachable):.1f} km/h, not {to_kmh(desired):.1f}: this"
                    f" treadmill changes speed in {step:.1f} km/h steps, more than a backward"
                    " speed may rise at once"
                ),
                speed_kmh=to_kmh(reachable),
                requested_kmh=to_kmh(desired),
            )
        )

    async def _settle(self) -> float:
        """Wait for the belt to reach the commanded speed (bounded); its loop time."""
        loop = asyncio.get_running_loop()
        try:
            await self.treadmill.wait_for_speed(self.governor.commanded)
        except CommandIgnored as exc:
            self._emit(DeviceIgnoredCommand(t=self._t(), message=str(exc)))
            raise _End(
                EndReason.SAFETY_STOP, f"the treadmill does not follow commands: {exc}"
            ) from exc
        return loop.time()

    async def _turnaround(self, step: PlanStep) -> None:
        loop = asyncio.get_running_loop()
        self.status = Status.TURNING
        to = step.to_direction or Direction.FORWARD
        self._emit(
            StepStarted(
                t=self._t(),
                message=self._step_sentence(step),
                step=self._step_info(step),
                total=len(self.plan.steps),
            )
        )
        slowing = TurnaroundPhase(
            t=self._t(),
            message="Stopping the belt to turn around."
            if step.stop_belt
            else "Slowing down to turn around.",
            phase="slowing",
            index=self.step_index,
            to=to,
            stop_belt=step.stop_belt,
            needs_confirm=self.attended,
            hold_s=step.duration_s,
        )
        self._emit(slowing)
        command = self.governor.turnaround_command(loop.time(), stop_belt=step.stop_belt)
        self.target = command.value
        self.adjust = 0
        await self._send(command)
        await self._set_incline(step.incline)  # the plan flattens the belt to turn
        await self._settle_at_or_below(command.value)
        if await self._flatten_to(step.incline):
            # The deck took its time: the belt must still be at the turn's speed when
            # the runner is told to turn (seed 92 case 751: a jump while it came down).
            await self._settle_at_or_below(command.value)
        await self._change_direction(Direction.TURNING)
        self._confirmed.clear()  # from now, an Enter confirms this turn (even during the hold)
        self._emit(
            dataclasses.replace(slowing, t=self._t(), message="Turn around now.", phase="turn")
        )
        await self._hold(step.duration_s)
        if self.attended:
            await self._confirmed.wait()
            self._confirmed.clear()
        await self._resumed.wait()  # halted or paused while turning: the runner resumes first
        await self._judged_after_the_hold()
        await self._change_direction(to)
        self._emit(TurnaroundConfirmed(t=self._t(), message=f"Facing {to} now.", to=to))

    async def _judged_after_the_hold(self) -> None:
        """Wait for a record from after the hold, judged while still turning.

        The runner turns on the belt as it is now: the last record may be a second
        old, and a belt that jumped since would otherwise first be seen facing the
        new way (forward: no ceiling). A record over the turn's limit halts the belt
        here; the runner resumes first, and the turn ends on a later record.
        """
        misses = 0
        while misses < _TURN_END_MISSES:
            seen = await self._next_observed(self.treadmill.watchdog_s)
            if self.paused:
                await self._resumed.wait()
                continue
            if seen:
                return
            misses += 1  # the link watchdog pauses the session long before the last
        raise _End(EndReason.SAFETY_STOP, "no telemetry: cannot see the belt to end the turn")

    async def _next_observed(self, timeout: float) -> bool:
        """Wait (bounded) until the governor judged the next record; False on timeout."""
        try:
            async with asyncio.timeout(max(timeout, _MIN_WAIT_S)):
                await self._observed.wait()
        except TimeoutError:
            return False
        return True

    async def _change_direction(self, direction: Direction) -> None:
        """Tell the governor, then lower an incline too steep for the new direction."""
        loop = asyncio.get_running_loop()
        belt = self._belt_speed()
        if belt is None:  # never assume a belt we have not seen is at rest
            await self.treadmill.next_record(self.treadmill.watchdog_s)
            belt = self._belt_speed()
        if belt is None:
            raise _End(EndReason.SAFETY_STOP, "no telemetry: cannot see the belt to turn")
        self.governor.set_direction(direction, loop.time(), belt_speed=belt)
        correction = self.governor.incline_correction(loop.time())
        if correction is not None:
            await self._send(correction)

    async def _set_incline(self, desired: int) -> None:
        """Ask the governor for ``desired`` (0.1 %); send only what changes the belt."""
        before = self.governor.commanded_incline
        command = self.governor.request_incline(desired, asyncio.get_running_loop().time())
        if command.value != before or command.clamped:
            await self._send(command)

    async def _settle_at_or_below(self, speed: int) -> None:
        # The turn-around's own watch allows one device increment: so does this wait,
        # or the runner would be told to turn on a belt the watch then halts.
        def slow_enough() -> bool:
            belt = self._belt_speed()
            return belt is not None and belt <= speed + self.governor.tolerance

        await self._await_belt(
            slow_enough,
            self.treadmill.profile.settle_time_s,
            f"the belt did not slow to {to_kmh(speed):.1f} km/h for the turn-around",
        )

    async def _flatten_to(self, incline: int) -> bool:
        """Wait for the deck to come down to ``incline`` (0.1 %) before the turn; True
        when it had to be waited for.

        Bounded by the profile's incline rate plus its settle time; a deck that
        does not come down ends the session with a safety stop.
        """

        def flat_enough() -> bool:
            reported = self._belt_incline()
            return reported is None or reported <= incline + INCLINE_TOLERANCE

        if flat_enough():
            return False
        profile = self.treadmill.profile
        travel_s = ((self._belt_incline() or 0) - incline) / 10 / profile.incline_pct_per_s
        await self._await_belt(
            flat_enough,
            travel_s + profile.settle_time_s,
            f"the incline did not come down to {incline / 10:.1f} % for the turn-around",
        )
        return True

    async def _await_belt(
        self, arrived: Callable[[], bool], timeout_s: float, failure: str
    ) -> None:
        """Wait, record by record, until ``arrived()``; past ``timeout_s`` a safety stop."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not arrived():
            if self.paused:
                # The link dropped or the runner paused: the belt is being stopped.
                await self._resumed.wait()
                deadline = loop.time() + timeout_s
                continue
            if loop.time() >= deadline:
                raise _End(EndReason.SAFETY_STOP, failure)
            # Never a zero wait: a clock that rounds (looptime) would not move on.
            await self.treadmill.next_record(max(min(deadline - loop.time(), 1.0), _MIN_WAIT_S))

    async def _hold(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (remaining := end - loop.time()) > _MIN_WAIT_S:  # noqa: ASYNC110 - a hold is time
            await asyncio.sleep(remaining)

    def _belt_speed(self) -> int | None:
        latest = self.treadmill.latest
        return latest.speed if latest is not None else None

    def _speed_bound(self) -> int | None:
        """The fastest the belt can be now without a cause from outside: what it last
        showed, or what it was last told (it may be on its way there, or a command
        was answered whose record is still to come). None before any record."""
        seen = self._belt_speed()
        return None if seen is None else max(seen, self.governor.commanded)

    def _pause_bound(self) -> int | None:
        """The fastest the belt can be when a pause begins; None before any record.

        What it was told caps it; a belt still on its way up gains no more than its
        acceleration (as it rose lately, the profile's at least) allows from its last
        record until the machine acts on the pause (``RUNDOWN_GRACE_S``). Not the
        target itself: a belt paused at 4 km/h on its way to 6.8 would otherwise be
        watched as if from 6.8, and a restart at 3.8 km/h go unhalted for three
        records (seed 6 case 496). Not for a lost link, whose outage has no bound
        in time: that keeps :meth:`_speed_bound`.
        """
        latest = self.treadmill.latest
        if latest is None:
            return None
        return self._reach(latest, self.governor.commanded)

    def _reach(self, record: Telemetry, told: int) -> int | None:
        """The fastest a belt that read ``record`` and was told ``told`` can be now:
        no faster than told (unless it already was), nor than its acceleration allows
        since that record, plus the machine's time to act (``RUNDOWN_GRACE_S``)."""
        seen = record.speed
        if seen is None:
            return None
        if told <= seen:
            return seen
        rate = max(self._rise_per_s, self.treadmill.profile.accel_kmh_per_s * 100)
        age = asyncio.get_running_loop().time() - record.t
        return min(told, seen + math.ceil(rate * (age + RUNDOWN_GRACE_S)))

    def _note_rise(self, sample: Telemetry) -> None:
        last = self._last_sample
        if last is None or last.speed is None or sample.speed is None or sample.t <= last.t:
            return
        self._rise_per_s = max((sample.speed - last.speed) / (sample.t - last.t), 0.0)

    def _belt_incline(self) -> int | None:
        latest = self.treadmill.latest
        return latest.record.inclination if latest is not None else None

    # ---------------------------------------------------------------- sending

    async def _send(self, command: SafeCommand) -> None:
        """Send a governor command; record clamps; link trouble waits for the link."""
        if command.clamped and command.kind == "incline":
            self._emit(
                CeilingClamped(
                    t=self._t(),
                    message=f"Asked {command.requested / 10:.1f} % incline,"
                    f" sent {command.value / 10:.1f}: "
                    f"the limit facing {self.governor.direction} is lower",
                    incline_pct=command.value / 10,
                    requested_incline_pct=command.requested / 10,
                )
            )
        elif command.clamped:
            self._emit(
                CeilingClamped(
                    t=self._t(),
                    message=f"Asked {to_kmh(command.requested):.1f} km/h,"
                    f" sent {to_kmh(command.value):.1f}: "
                    f"the ceiling is {to_kmh(self.governor.ceiling):.1f} km/h",
                    ceiling_kmh=to_kmh(self.governor.ceiling),
                    requested_kmh=to_kmh(command.requested),
                )
            )
        if command.kind == "speed":
            # The governor owns the commanded speed (it counts from its approval); a
            # send that fails pauses the session, and the pause resets it to 0.
            if command.value > 0 and self.paused:
                return  # paused meanwhile: nothing may set the belt going (a resume ramps)
            await self._guarded(self.treadmill.set_speed(command))
            if command.value > 0 and self.paused:
                # The pause came while this speed was on its way, and a paused machine
                # may take a new target as a start: pause it again at once.
                await self._pause_belt()
        else:
            await self._guarded(self.treadmill.set_incline(command))

    async def _pause_belt(self) -> None:
        """Bring the belt to rest for a pause: FTMS Pause facing forward; Stop facing
        backward or turning. A paused machine keeps its target and runs back to it on
        Start, before the speed sent with the resume takes, or instead of it where the
        machine ignored that speed: a belt over the ceiling, corrected by a command the
        machine never took, came back under a runner facing the rear (seed 71 case
        1249). After Stop the machine has no target of its own; a resume ramps up from
        its minimum, as after a halt."""
        if self.governor.direction is Direction.FORWARD:
            await self._guarded(self.treadmill.pause())
        else:
            await self._guarded(self.treadmill.stop_belt())

    async def _guarded(self, procedure: Coroutine[Any, Any, Any]) -> bool:
        """Run a procedure; a dropped link pauses the session instead of ending a task.

        The link's own recovery (reconnect, then Stop first) brings the belt to
        rest; the session waits, paused, for it. True when the procedure went through.
        """
        try:
            await procedure
        except LinkError as exc:
            log.info("procedure lost the link: %s", exc)
            self._pause_state()
            return False
        return True

    async def _stop_belt(self) -> None:
        """Command the belt to stop now and watch it come to rest (bounded).

        ``stop_acknowledged`` says whether the treadmill answered the command,
        ``belt_seen_stopped`` whether telemetry then showed the belt at rest. The
        Treadmill's exit stops the belt again.
        """
        self.status = Status.STOPPED
        self.stop_acknowledged = False
        self._stop_sent_at = asyncio.get_running_loop().time()
        with contextlib.suppress(asyncio.CancelledError):
            try:
                async with asyncio.timeout(5.0):
                    await asyncio.shield(self.treadmill.stop_belt())
                self.stop_acknowledged = True
            except (TimeoutError, CommandError, LinkError, RetrorunError) as exc:
                log.warning("belt stop not acknowledged: %s", exc)
        self.governor.reset_after_stop()
        with contextlib.suppress(asyncio.CancelledError):
            self.belt_seen_stopped = await asyncio.shield(self._see_belt_stopped())

    async def _see_belt_stopped(self) -> bool:
        """Wait (bounded by the run-down time) until telemetry shows the belt at rest."""
        loop = asyncio.get_running_loop()
        belt = self._belt_speed()
        decel = self.treadmill.profile.decel_kmh_per_s
        wait_s = min((belt or 0) / 100 / decel + 3.0, _STOP_SEEN_MAX_S)
        deadline = loop.time() + wait_s
        # From the Stop on, the governor's run-down watch judges the belt, as while
        # paused: one that speeds up or holds its speed gets Stop again.
        self.governor.pause(loop.time(), belt, rearm=True)
        judged: Telemetry | None = None
        resent = 0
        starts = self.treadmill.console_starts
        last_call = loop.time() + _STOP_WATCH_MAX_S

        def watch_on(speed: int | None) -> float:
            """After Stop is sent again: long enough to see this belt run down (seed 8
            case 1007: a console speed-up pressed again and again after the end's
            Stop), never past ``_STOP_WATCH_MAX_S`` from the first Stop."""
            rundown = (speed or 0) / 100 / decel + 3.0
            return min(max(deadline, loop.time() + rundown), last_call)

        while True:
            if self.treadmill.console_starts != starts:
                # Start pressed at the console after the Stop: Stop again now, not a
                # record later; the belt must then be seen at rest after this one.
                starts = self.treadmill.console_starts
                if resent >= _STOP_RESENDS:
                    return False
                resent += 1
                with contextlib.suppress(CommandError, LinkError, TimeoutError):
                    async with asyncio.timeout(5.0):
                        await self.treadmill.stop_belt()
                self._stop_sent_at = loop.time()
                self.governor.pause(loop.time(), None, rearm=True)
                deadline = min(max(deadline, loop.time() + _RESTART_STOP_S), last_call)
            latest = self.treadmill.latest
            fresh = latest is not None and latest.t >= self._stop_sent_at
            speed = (latest.speed or 0) if latest is not None else 0
            if fresh and speed <= self.governor.tolerance:
                return True
            if fresh and latest is not judged:
                judged = latest
                reaction = self.governor.observe(speed, loop.time(), None)
                if reaction.kind is not ReactionKind.NONE:
                    if resent >= _STOP_RESENDS:
                        return False
                    resent += 1
                    with contextlib.suppress(CommandError, LinkError, TimeoutError):
                        async with asyncio.timeout(5.0):
                            await self.treadmill.stop_belt()
                    # A fresh watch from this Stop: one speed-up must not spend every
                    # re-send on the records of its own run-down.
                    self.governor.pause(loop.time(), speed, rearm=True)
                    deadline = watch_on(speed)
            remaining = deadline - loop.time()
            if remaining <= _EPSILON_S or not self.treadmill.connected:
                return False
            await self.treadmill.next_record(max(remaining, _MIN_WAIT_S))

    # ---------------------------------------------------------------- monitor

    def _heart_rate(
        self, record_hr: int | None
    ) -> tuple[int | None, str, float | None, bool | None]:
        """This record's heart rate: (bpm, source, when measured, skin contact).

        With a strap, the strap's newest reading (the governor judges how old it is
        and whether it touches skin); without one, the treadmill's own field.
        """
        if self.strap is None:
            return record_hr, "treadmill", None, None
        latest = self.strap.latest
        if latest is None:
            return None, "strap", None, None
        return latest.bpm, "strap", latest.t, latest.contact

    async def _monitor(self) -> None:
        loop = asyncio.get_running_loop()
        if self.strap is not None:
            self.governor.expect_heart_rate(loop.time())  # a silent strap is unknown, not fine
        async for sample in self.treadmill.telemetry():
            record = sample.record
            speed = record.speed if record.speed is not None else 0
            direction = self.governor.direction
            self._note_rise(sample)
            self._integrate(sample, direction)
            self._last_direction = direction
            bpm, source, measured_at, contact = self._heart_rate(record.heart_rate)
            reaction = self.governor.observe(
                speed, loop.time(), bpm, heart_rate_at=measured_at, contact=contact
            )
            # Recorded only while trusted: a stale, off-skin or stuck value is no heart rate.
            shown = bpm if self.governor.heart_rate_unknown is None else None
            if reaction.kind is not ReactionKind.NONE:
                await self._react(reaction, speed)
            if self.hr_guide is not None and self.status is Status.RUNNING:
                self._follow_heart_rate(loop.time(), shown)
            self._observed.set()  # wakes every waiter of _next_observed; none waits twice
            self._observed.clear()
            if self.status is Status.STOPPED:
                return  # the session is ending: the record is closed
            self.recorder.write(
                "telemetry",
                self._t(),
                speed_kmh=to_kmh(speed),
                incline_pct=(record.inclination or 0) / 10,
                distance_m=round(self.distance_m, 1),
                **(
                    {"heart_rate_bpm": shown, "heart_rate_source": source}
                    if shown is not None
                    else {}
                ),
                direction=str(direction),
                step=self.step_index,
            )
            self.bus.publish(self._state(speed, record.inclination, shown))

    def _follow_heart_rate(self, now: float, bpm: int | None) -> None:
        """A heart-rate step: the zone's controller moves the target; the scheduler
        ramps to it through the governor, as for a nudge (``retrorun.hr._zone``)."""
        if self.hr_guide is None:
            return
        change = self.hr_guide.update(
            now,
            bpm,
            commanded=self.governor.commanded,
            held=self.governor.holds_for_heart_rate,
        )
        if change is not None and change.target != self.target:
            self.target = change.target
            if change.announce:
                self._emit(
                    SpeedAdjusted(
                        t=self._t(), message=change.message, target_kmh=to_kmh(change.target)
                    )
                )
            self._wake.set()

    async def _react(self, reaction: Reaction, speed: int, *, resume: bool = True) -> None:
        kind = reaction.kind
        command = reaction.command
        if kind is ReactionKind.CORRECT and self.treadmill.profile.has("ignores_speed_commands"):
            # A machine that ignores speed commands cannot be slowed: stop it instead.
            reaction = self.governor.stop_now(
                f"{reaction.reason}; this treadmill ignores speed commands, so it is stopped"
            )
            kind, command = reaction.kind, reaction.command
        if kind is ReactionKind.CORRECT:
            if command is None:
                raise RuntimeError(f"internal error: a {kind} reaction without a command")
            action = (
                f"slowing to {to_kmh(command.value):.1f}" if command.value else "stopping the belt"
            )
            self._emit(
                CeilingViolation(
                    t=self._t(),
                    message=f"Belt at {to_kmh(speed):.1f} km/h, over the limit:"
                    f" {action} ({reaction.reason})",
                    speed_kmh=to_kmh(speed),
                    ceiling_kmh=to_kmh(self.governor.ceiling),
                )
            )
            await self._send(command)
            if self._tasks is not None and self._running:
                self._tasks.create_task(
                    self._confirm_correction(self.treadmill.latest), name="correction"
                )
        elif kind is ReactionKind.HALT:
            if command is None:
                raise RuntimeError(f"internal error: a {kind} reaction without a command")
            self._emit(
                BeltHalted(
                    t=self._t(),
                    message=f"Stopping the belt: {reaction.reason}. Hold the rails.",
                    speed_kmh=to_kmh(speed),
                )
            )
            await self._send(command)
            self._pause_state()
            self._emit(
                Paused(t=self._t(), message="Paused: the belt is stopping.", source="safety")
            )
            if resume:
                self._start_resume(after_link=False)
        elif kind is ReactionKind.SLOW:
            if command is None:
                raise RuntimeError(f"internal error: a {kind} reaction without a command")
            unknown = not self.governor.heart_rate_high and bool(self.governor.heart_rate_unknown)
            self._emit(
                HeartRateHigh(t=self._t(), message=reaction.reason, heart_rate_unknown=unknown)
            )
            await self._send(command)
        elif kind is ReactionKind.STOP:
            self._emit(SafetyStopped(t=self._t(), message=reaction.reason))
            raise _End(EndReason.SAFETY_STOP, reaction.reason)

    async def _confirm_correction(self, seen: Telemetry | None) -> None:
        """A correction is judged on the next record (taken, or a stop). One that does
        not come within a telemetry period (and a margin) leaves a belt over the
        ceiling unconfirmed, on a machine that may not have taken it: stopped then,
        not seconds later at the link watchdog (seed 93 case 1406: telemetry stalled
        a moment after a machine ignored the correction of 5.6 km/h under a 4.0
        ceiling)."""
        period = self.treadmill.profile.notify_period_s
        await self.treadmill.next_record(period + _CONFIRM_MARGIN_S)
        if self.treadmill.latest is not seen or self.paused or self.status is Status.STOPPED:
            return
        reaction = self.governor.stop_now(
            "no record came to show the belt taking its correction over the ceiling"
        )
        await self._react(reaction, (seen.speed or 0) if seen is not None else 0)

    def _integrate(self, sample: Telemetry, direction: Direction) -> None:
        """Fold one record into the totals.

        Each total has one definition, the one the record's summary uses too: the
        span between two records belongs to the earlier one (its direction, its
        speed); backward time and distance count spans facing backward only.
        """
        del direction  # this record's direction counts for the span after it
        record = sample.record
        last = self._last_sample
        self._last_sample = sample
        before = self.distance_m
        if record.total_distance is not None:
            if self._distance_base is None:
                self._distance_base = float(record.total_distance)
            self.distance_m = max(self.distance_m, record.total_distance - self._distance_base)
        if last is None:
            return
        dt_s = max(sample.t - last.t, 0.0)
        speed = to_kmh(last.record.speed or 0)
        if record.total_distance is None:
            self.distance_m += speed / 3.6 * dt_s
        span = self._last_direction
        backward = span is Direction.BACKWARD
        if backward:
            self.backward_s += dt_s
            self.backward_m += self.distance_m - before
        if span is not Direction.FORWARD and (last.record.speed or 0) > self.governor.ceiling:
            self.over_ceiling_s += dt_s
        grade = (last.record.inclination or 0) / 10
        self.energy_kcal += (
            kcal_per_min(speed, grade, self.weight_kg, backward=backward) * dt_s / 60
        )

    # ----------------------------------------------------------------- events

    async def _treadmill_events(self) -> None:
        async for ev in self.treadmill.events():
            await self._on_treadmill_event(ev)

    async def _on_treadmill_event(self, ev: TreadmillEvent) -> None:
        kind = ev.kind
        if kind is TreadmillEventKind.SAFETY_KEY:
            self._emit(SafetyKeyPulled(t=self._t(), message="Safety key pulled: the session ends."))
            raise _End(EndReason.SAFETY_KEY, "the safety key was pulled")
        if kind is TreadmillEventKind.STOPPED_BY_USER:
            self._emit(UserStopped(t=self._t(), message="Stopped at the treadmill's console."))
            raise _End(EndReason.USER_STOP, "stopped at the treadmill's console")
        if kind is TreadmillEventKind.PAUSED_BY_USER:
            self._emit(
                Paused(t=self._t(), message="Paused at the treadmill's console.", source="console")
            )
            # The belt comes to rest without a command of ours: ramp up from zero later.
            self._pause_state()
            if self.status is Status.PAUSED and self.governor.direction is not Direction.FORWARD:
                # Paused, the machine keeps its target for Start: our own pause then is
                # a Stop, which clears it (see _pause_belt).
                await self._pause_belt()
        elif kind is TreadmillEventKind.STARTED_BY_USER:
            self._emit(
                ConsoleChange(
                    t=self._t(),
                    message="Start pressed at the treadmill's console while"
                    f" {self._status_words()}.",
                )
            )
            reaction = self.governor.observe_start(asyncio.get_running_loop().time())
            if reaction.kind is not ReactionKind.NONE:
                # Paused, or turning on a stopped belt: the belt is stopped before it
                # moves. Start pressed while paused still asks for the resume, which
                # then goes by the usual rules (a hold or Enter, a belt seen at rest).
                console_resume = self.status is Status.PAUSED
                await self._react(reaction, 0, resume=not console_resume)
                if console_resume and self.paused:
                    self.request("resume", source="console")
            elif self.status is Status.PAUSED:
                # Start pressed at the console: a resume, under the usual rules.
                self.request("resume", source="console")
        elif kind is TreadmillEventKind.TARGET_SPEED_CHANGED:
            value = ev.value if ev.value is not None else 0
            if value != self.governor.commanded:
                self._emit(
                    ConsoleChange(
                        t=self._t(),
                        message=f"Speed changed at the console to {to_kmh(value):.1f} km/h.",
                        speed_kmh=to_kmh(value),
                    )
                )
                loop = asyncio.get_running_loop()
                latest = self.treadmill.latest
                bound = self._reach(latest, value) if latest is not None else None
                reaction = self.governor.observe_target(value, loop.time(), belt_bound=bound)
                if reaction.kind is not ReactionKind.NONE:
                    await self._react(reaction, value)
        elif kind is TreadmillEventKind.CONTROL_LOST:
            self._emit(
                SafetyStopped(
                    t=self._t(), message="The treadmill withdrew control: the session ends."
                )
            )
            raise _End(EndReason.SAFETY_STOP, "the treadmill withdrew control")
        elif kind is TreadmillEventKind.LINK_LOST:
            self._emit(
                LinkDown(t=self._t(), message=f"Bluetooth link lost ({ev.detail}): reconnecting.")
            )
            if self._speed_at_loss is None:
                self._speed_at_loss = self._speed_bound()
                self._seen_at_loss = self.treadmill.latest
                self._told_at_loss = self.governor.commanded
                # Already running down (paused, halted, or a reconnect before this one):
                # no faster than its envelope now (seed 8 case 764: a second outage
                # re-armed the watch from the last record's 7.1 km/h, 3 s into the
                # run-down, and a restart at 6.1 was halted a record late).
                envelope = self.governor.rundown_bound(asyncio.get_running_loop().time())
                if envelope is not None and self._speed_at_loss is not None:
                    self._speed_at_loss = min(self._speed_at_loss, envelope)
            self._pause_state()
            # Nobody can stop the belt until the reconnect's Stop: its run-down counts
            # from that Stop, not from now.
            self.governor.pause(asyncio.get_running_loop().time(), None, rearm=True)
        elif kind is TreadmillEventKind.LINK_RESTORED:
            # The reconnect sent Stop first: the belt runs down from here, from no
            # faster than it was at the loss; a faster first record is halted at once.
            self._pause_state()
            bound, self._speed_at_loss = self._speed_at_loss, None
            # Nor faster than its acceleration allows from its last record until now
            # (seed 8 case 1222: a belt steady at 0.8 km/h under a 7.7 target it
            # ignored, back after an outage at 6.3, was watched from 7.7).
            seen, self._seen_at_loss = self._seen_at_loss, None
            reach = self._reach(seen, self._told_at_loss) if seen is not None else None
            if bound is not None and reach is not None:
                bound = min(bound, reach)
            self.governor.pause(asyncio.get_running_loop().time(), bound, rearm=True)
            self._emit(LinkRestored(t=self._t(), message=f"Link restored: {ev.detail}."))
            self._start_resume(after_link=True)
        elif kind is TreadmillEventKind.LINK_FAILED:
            self._emit(
                LinkDown(
                    t=self._t(),
                    message=f"Could not reconnect: {ev.detail}. The belt may still be moving:"
                    " stop it at the console or pull the safety key.",
                )
            )
            raise _End(EndReason.LINK_LOST, f"link lost for good: {ev.detail}")
        elif kind is TreadmillEventKind.GARBAGE:
            log.info("malformed notification: %s", ev.detail)
        elif kind is TreadmillEventKind.NOTE:
            self._emit(TreadmillNote(t=self._t(), message=ev.detail))

    def _pause_state(self) -> None:
        if self.status is Status.STOPPED:
            return
        if self.status is not Status.PAUSED:
            self._freeze_deadline()
            # From now the belt must run down and stay at rest (the paused watch).
            self.governor.pause(asyncio.get_running_loop().time(), self._pause_bound())
        self.status = Status.PAUSED
        self._resumed.clear()
        self._paused_evt.set()
        self._unsettled = True
        if self._resuming is not None and not self._resuming.done():
            self._resuming.cancel()  # e.g. the link dropped again while waiting
        self._resuming = None  # a new resume may start at once (this one is cancelled)

    def _freeze_deadline(self) -> None:
        loop = asyncio.get_running_loop()
        if self.step_deadline is not None:
            self._step_left = max(self.step_deadline - loop.time(), 0.0)

    @property
    def _resume_pending(self) -> bool:
        return self._resuming is not None and not self._resuming.done()

    def _start_resume(self, *, after_link: bool) -> None:
        """Wait for the confirmation (or hold) in a task of its own.

        The control loop and the treadmill events go on meanwhile: a stop, the
        safety key or a signal never waits for a runner to press Enter.
        """
        if self._resume_pending or self._tasks is None:
            return
        self._resuming = self._tasks.create_task(
            self._await_resume(after_link=after_link), name="resume"
        )

    async def _await_resume(self, *, after_link: bool) -> None:
        """After a pause or link loss: confirm (or hold), then continue the step."""
        if self.attended:
            self._confirmed.clear()
            self._emit(
                ConfirmNeeded(
                    t=self._t(),
                    message="Confirm when you are ready to go on.",
                    what="link" if after_link else "resume",
                )
            )
            await self._confirmed.wait()
        else:
            await self._hold(self.resume_hold_s)
        # Never go on from a moving belt: it must be seen at rest first (the paused
        # watch meanwhile stops a belt that will not come to rest).
        await self._until_at_rest()
        await self._resume()

    async def _until_at_rest(self) -> None:
        """Wait, record by record, until telemetry shows the belt at rest."""
        while True:
            belt = self._belt_speed()
            if belt is not None and belt <= self.governor.tolerance:
                return
            await self.treadmill.next_record(self.treadmill.watchdog_s)

    async def _resume(self) -> None:
        loop = asyncio.get_running_loop()
        if self.step_deadline is not None:
            self.step_deadline = loop.time() + self._step_left
        self._paused_evt.clear()
        self.governor.resume()
        self.status = (
            Status.TURNING if self.governor.direction is Direction.TURNING else Status.RUNNING
        )
        self._emit(Resumed(t=self._t(), message="Resuming."))
        self._resumed.set()
        self._wake.set()

    # --------------------------------------------------------------- controls

    async def _control_loop(self) -> None:
        while True:
            command, _value = await self._controls.get()
            if command == "pause":
                if not self.paused:
                    continue  # resumed (or ended) before the pause was sent
                await self._pause_belt()
                self._emit(Paused(t=self._t(), message="Paused: the belt is stopping."))

    # ---------------------------------------------------------------- helpers

    def _t(self) -> float:
        return asyncio.get_running_loop().time() - self.origin

    def _emit(self, event: SessionEvent) -> None:
        """Record an event and publish it to every sink."""
        self.recorder.event(event)
        self.bus.publish(event)

    def _route_command_log(self) -> None:
        """Route the treadmill's command log into the record."""

        def record(entry: CommandLog) -> None:
            self.recorder.write(
                "command",
                entry.t - self.origin,
                op=entry.op,
                value=entry.value,
                result=entry.result,
            )

        self.treadmill.set_command_log(record)

    def _state(self, speed: int, incline: int | None, hr: int | None) -> SessionState:
        loop = asyncio.get_running_loop()
        remaining = 0.0
        if self.status is Status.PAUSED and self.step_deadline is not None:
            remaining = self._step_left  # the step's clock stands still
        elif self.step_deadline is not None:
            remaining = max(self.step_deadline - loop.time(), 0.0)
        return SessionState(
            t=self._t(),
            speed_kmh=to_kmh(speed),
            incline_pct=(incline or 0) / 10,
            distance_m=self.distance_m,
            elapsed_s=self._t(),
            heart_rate_bpm=hr,
            direction=self.governor.direction,
            step=self.step_index,
            step_label=self.step_label,
            step_remaining_s=remaining,
            program=self.program_name,
            status=self.status,
            ceiling_kmh=to_kmh(self.governor.ceiling),
            target_kmh=to_kmh(max(self.target + self.adjust, 0)),
            steps_total=len(self.plan.steps),
            energy_kcal=self.energy_kcal,
        )

    @staticmethod
    def _step_info(step: PlanStep) -> StepInfo:
        return StepInfo(
            index=step.index,
            direction=step.direction,
            speed_kmh=to_kmh(step.speed),
            incline_pct=step.incline / 10,
            duration_s=step.duration_s,
            label=step.label,
            cue=step.cue or "",
            turnaround=step.turnaround,
        )

    @staticmethod
    def _step_sentence(step: PlanStep) -> str:
        if step.turnaround:
            return f"Turn around to face {step.to_direction}."
        minutes, seconds = divmod(round(step.duration_s), 60)
        length = f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
        return f"{str(step.direction).capitalize()} at {to_kmh(step.speed):.1f} km/h for {length}."

    def _finish(self, end: _End) -> SessionResult:
        belt_stopped = self.belt_seen_stopped
        last = self._last_sample
        if (
            last is not None
            and self._last_direction is not Direction.FORWARD
            and (last.record.speed or 0) > self.governor.ceiling
        ):
            # The last record over the ceiling has no next one to close its span:
            # it counts up to the Stop (an end line must never say 0 s over then).
            until = min(self._stop_sent_at, asyncio.get_running_loop().time())
            self.over_ceiling_s += max(until - last.t, 0.0)
        self.status = Status.STOPPED
        # Whatever the client does after this (its exit stop) is not this record's.
        self.treadmill.set_command_log(None)
        self.step_deadline = None
        # The last state says so too: a retained "running" would outlive the session.
        latest = self.treadmill.latest
        record = latest.record if latest is not None else None
        speed = 0 if belt_stopped or record is None else record.speed or 0
        self.bus.publish(
            self._state(
                speed,
                record.inclination if record is not None else None,
                record.heart_rate if record is not None else None,
            )
        )
        self._emit(SessionEnded(t=self._t(), message=end.message, reason=str(end.reason)))
        result = SessionResult(
            reason=end.reason,
            message=end.message,
            belt_stopped=belt_stopped,
            # The session's time counts from its first step: a pre-flight check
            # that waited for the runner is not exercise.
            duration_s=round(self._t() - self._first_step_t, 3)
            if self._first_step_t is not None
            else 0.0,
            distance_m=round(self.distance_m, 1),
            backward_s=round(self.backward_s, 1),
            energy_kcal=round(self.energy_kcal, 1),
            stop_acknowledged=self.stop_acknowledged,
            over_ceiling_s=round(self.over_ceiling_s, 1),
            backward_m=round(self.backward_m, 1),
        )
        self.recorder.end(
            self._t(),
            reason=str(result.reason),
            belt_stopped=result.belt_stopped,
            distance_m=result.distance_m,
            duration_s=result.duration_s,
            backward_s=result.backward_s,
            energy_kcal=result.energy_kcal,
            message=end.message,
            stop_acknowledged=result.stop_acknowledged,
            over_ceiling_s=result.over_ceiling_s,
            backward_m=result.backward_m,
        )
        self.bus.close()
        return result
