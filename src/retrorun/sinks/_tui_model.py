"""What the display shows, kept apart from how (Textual): a model fed by the bus.

Every time-dependent thing on screen (how long a banner stays, when it flashes)
is decided from *session* time carried by the states and events, not from a
clock, so the same items always give the same screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from retrorun.bus import Item
from retrorun.events import (
    ConfirmNeeded,
    Direction,
    EventKind,
    SessionEnded,
    SessionEvent,
    SessionStarted,
    SessionState,
    Status,
    StepInfo,
    StepStarted,
    TurnaroundConfirmed,
    TurnaroundPhase,
)
from retrorun.guidance import format_speed

__all__ = ["BANNER_S", "FLASH_S", "NOTICE_S", "Banner", "DisplayModel"]

BANNER_S = 10.0  # a safety banner stays this long (session seconds) ...
FLASH_S = 3.0  # ... flashing for the first seconds of it
NOTICE_S = 6.0  # a refusal or an acknowledgement stays this long

# Banners that stay until the session says otherwise.
_STICKY = frozenset({EventKind.LINK_LOST, EventKind.SAFETY_STOP, EventKind.SAFETY_KEY})
# Events after which the session no longer waits for a confirmation it asked for.
_CONFIRM_OVER = frozenset(
    {
        EventKind.RESUMED,
        EventKind.STEP_STARTED,
        EventKind.TURNAROUND_CONFIRMED,
        EventKind.SESSION_ENDED,
    }
)


@dataclass(frozen=True, slots=True)
class Banner:
    """A safety message across the top of the screen, shown from session time ``since``."""

    text: str
    since: float
    sticky: bool


class DisplayModel:
    """The display's state, updated one bus item at a time."""

    def __init__(self) -> None:
        self.program = ""
        self.plan: list[StepInfo] = []
        self.state: SessionState | None = None
        self.step: StepInfo | None = None
        self.upcoming: StepInfo | None = None
        self.total = 0
        self.ceiling_kmh: float | None = None
        self.banner: Banner | None = None
        self.notice: tuple[str, float] | None = None
        self.turn: TurnaroundPhase | None = None
        self.confirm_for: str | None = None  # what the session waits for Enter for
        self.ended = False
        self.now = 0.0
        # The step whose clock has been seen running: until then a state's
        # ``step_remaining_s`` is 0 because the session has not started timing it
        # (the belt is still ramping, or a turn-around waits for the runner).
        self._timed_step = -1

    # -- feeding -----------------------------------------------------------------

    def apply(self, item: Item) -> None:
        """Take in one state or event from the bus."""
        self.now = max(self.now, item.t)
        if isinstance(item, SessionState):
            self.state = item
            self.ceiling_kmh = item.ceiling_kmh
            if item.step_remaining_s > 0:
                self._timed_step = item.step
            if item.steps_total:
                self.total = item.steps_total
            if item.program:
                self.program = item.program
            return
        self._apply_event(item)

    def _apply_event(self, event: SessionEvent) -> None:
        kind = event.kind
        if kind in _CONFIRM_OVER:
            self.confirm_for = None
        match event:
            case ConfirmNeeded(what=what):
                if what != "preflight":  # the pre-flight screen asks for that one itself
                    self.confirm_for = what or "resume"
            case SessionStarted(program=program, ceiling_kmh=ceiling, steps=steps):
                self.program = program or self.program
                self.ceiling_kmh = ceiling
                self.plan = list(steps)
                self.total = len(self.plan) or self.total
            case StepStarted(step=step, next=upcoming, total=total):
                self.step, self.upcoming = step, upcoming
                self.total = total or self.total
                if not step.turnaround:
                    self.turn = None
            case TurnaroundPhase():
                self.turn = event
            case TurnaroundConfirmed():
                self.turn = None
                self.note("Turn-around confirmed", event.t)
            case SessionEnded():
                self.ended = True
                self.turn = None
                self.note(event.message or "Session over", event.t)
            case _ if kind is EventKind.LINK_RESTORED:
                self.banner = Banner("LINK RESTORED", event.t, sticky=False)
            case _ if event.safety:
                text = event.message.strip() or kind.replace("_", " ")
                self.banner = Banner(text.upper(), event.t, sticky=kind in _STICKY)
            case _ if kind in {EventKind.COMMAND_REFUSED, EventKind.SPEED_ADJUSTED}:
                self.note(event.message or kind.replace("_", " "), event.t)
            case _ if kind in {EventKind.PAUSED, EventKind.RESUMED}:
                self.note(kind.capitalize(), event.t)
            case _:
                pass

    def note(self, text: str, t: float | None = None) -> None:
        """Show a short line (a refusal, an acknowledgement) for a few seconds."""
        self.notice = (text, self.now if t is None else t)

    # -- reading -----------------------------------------------------------------

    @property
    def status(self) -> Status:
        """The session's status (``idle`` before the first state)."""
        return self.state.status if self.state is not None else Status.IDLE

    def headline(self) -> tuple[str, str]:
        """The big word and its style class: what a runner must see first."""
        if self.ended:
            return "DONE", "-done"
        status = self.status
        if status is Status.PAUSED:
            return "PAUSED", "-paused"
        if status is Status.STOPPED:
            return "STOPPED", "-paused"
        direction = self._direction()
        if status is Status.TURNING or direction is Direction.TURNING or self.turn is not None:
            return "< TURN >", "-turning"
        if self.state is None and self.step is None:
            return "READY", "-paused"
        if direction is Direction.FORWARD:
            return "FORWARD >", "-forward"
        return "< BACKWARD", "-backward"

    def _direction(self) -> Direction:
        if self.state is not None:
            return self.state.direction
        return self.step.direction if self.step is not None else Direction.FORWARD

    def banner_text(self) -> str | None:
        """The safety banner, while it lasts."""
        banner = self.banner
        if banner is None:
            return None
        if not banner.sticky and self.now - banner.since > BANNER_S:
            return None
        return banner.text

    def banner_flash(self) -> bool:
        """Inverted colours on every other half second of the banner's first seconds."""
        banner = self.banner
        if banner is None:
            return False
        age = self.now - banner.since
        return age < FLASH_S and int(age * 2) % 2 == 1

    def notice_text(self) -> str | None:
        """The short notice line, while it lasts."""
        if self.notice is None:
            return None
        text, since = self.notice
        return text if self.now - since <= NOTICE_S else None

    def awaiting_confirm(self) -> bool:
        """A turn-around waits for Enter."""
        turn = self.turn
        return turn is not None and turn.needs_confirm and turn.phase != "slowing"

    def refusal(self, delta: int) -> str:
        """Why a speed key changed nothing, as far as the display knows."""
        state = self.state
        if delta > 0 and state is not None:
            ceiling = round(state.ceiling_kmh * 100)
            if round(state.target_kmh * 100) + delta > ceiling:
                return f"Not faster: the ceiling is {format_speed(state.ceiling_kmh)} km/h"
        return "Faster refused" if delta > 0 else "Slower refused"

    def following(self) -> StepInfo | None:
        """The step after the current one, from the plan when the session did not say.

        A turn-around's ``step_started`` names no next step; the plan does.
        """
        if self.upcoming is not None:
            return self.upcoming
        step = self.step
        if step is not None and 0 <= step.index + 1 < len(self.plan):
            return self.plan[step.index + 1]
        return None

    def last_step(self) -> bool:
        """The current step is the plan's last (only then is there no next step)."""
        step = self.step
        if step is None:
            return False
        return step.index + 1 >= (len(self.plan) or self.total)

    def turn_to(self, step: StepInfo) -> Direction | None:
        """Where turn-around ``step`` turns the runner (None: not a turn, or not known).

        The turn's own event says it; before that, the step after it in the plan.
        """
        if not step.turnaround:
            return None
        turn = self.turn
        if turn is not None and self.step is not None and self.step.index == step.index:
            return turn.to
        if 0 <= step.index + 1 < len(self.plan):
            return self.plan[step.index + 1].direction
        return None

    def step_remaining(self) -> float:
        """What is left of the current step: all of it until its clock starts."""
        return self._index_and_remaining()[1]

    def program_position(self) -> tuple[float, float] | None:
        """``(seconds done, seconds in all)`` through the plan, when the plan is known."""
        if not self.plan:
            return None
        total = sum(step.duration_s for step in self.plan)
        if total <= 0:
            return None
        index, remaining = self._index_and_remaining()
        if index < 0:
            return 0.0, total
        if index >= len(self.plan) or self.ended:
            return (total, total) if self.ended else None
        done = sum(step.duration_s for step in self.plan[:index])
        current = self.plan[index].duration_s
        done += min(current, max(0.0, current - remaining))
        return done, total

    def _index_and_remaining(self) -> tuple[int, float]:
        if self.state is not None:
            index, remaining = self.state.step, self.state.step_remaining_s
            if index != self._timed_step:
                # Not timed yet: the whole step is ahead, not behind (a state's 0
                # here would count the step as done, then as not begun).
                planned = self._planned_s(index)
                if planned is not None:
                    remaining = planned
            return index, remaining
        if self.step is not None:
            return self.step.index, self.step.duration_s
        return -1, 0.0

    def _planned_s(self, index: int) -> float | None:
        if 0 <= index < len(self.plan):
            return self.plan[index].duration_s
        if self.step is not None and self.step.index == index:
            return self.step.duration_s
        return None
