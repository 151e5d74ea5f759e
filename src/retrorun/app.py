"""``retrorun run`` put together: check the input, build the stack, run, summarise.

Everything that can be wrong with the input (program file, profile files, fault
specs, ceilings, the MQTT URL) is checked before anything connects, so bad input
costs one line and exit code 2 and never a moving belt. Then, on one event loop
(the paced clock under ``--speedup``):

    Simulator (no --device) -> ble link -> Treadmill -> SafetyGovernor -> Session
                                                     \\-> EventBus -> sinks

Exit paths: the session's own end (0 completed, 1 early), SIGINT/SIGTERM (the
session stops the belt, then 130/143), any error before the session starts
(``Treadmill`` stops the belt on its way out; the terminal says what happened,
and no record is left: a session that never reached the treadmill is no session).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

from retrorun import clock
from retrorun.ble import open_link
from retrorun.bus import EventBus
from retrorun.devices import DeviceProfile, load_device_profile, match_device_profile
from retrorun.errors import RetrorunError, SafetyStop, UsageError
from retrorun.events import Direction, RemoteCommand
from retrorun.hr import (
    HeartRateGuide,
    HeartRatePrescription,
    HeartRateStrap,
    maximum_heart_rate,
    prescribe,
)
from retrorun.limits import BACKWARD_INCLINE_MAX, RunnerProfile, to_kmh
from retrorun.programs import Plan, Program, load_program, plan
from retrorun.record import Recorder, check_record_path, default_record_path
from retrorun.report import report_lines
from retrorun.safety import SafetyGovernor
from retrorun.session import EndReason, Session, SessionResult
from retrorun.treadmill import Treadmill

if TYPE_CHECKING:
    from retrorun.sinks.mqtt import MqttClaim, MqttSettings
    from retrorun.sinks.web import WebListener
    from treadsim.runtime import Simulator

__all__ = [
    "Prepared",
    "RunOptions",
    "build_session",
    "max_heart_rate",
    "prepare",
    "run_cli",
    "run_prepared",
]

_SINK_GRACE_S = 8.0  # wall seconds sinks get to finish after the session ended (the voice: 5)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Everything ``retrorun run`` was asked to do, checked for consistency."""

    program: str
    device: str | None = None
    hci: str | None = None
    profile_file: Path | None = None
    sim_profile: Path | None = None
    sim_faults: tuple[str, ...] = ()
    sim_state_log: Path | None = None
    sim_initial_speed: float = 0.0  # km/h: the simulated belt already runs at connect
    sim_strict: bool = False  # the simulator answers as strictly as FTMS allows
    speedup: float = 1.0
    profile: RunnerProfile | None = None
    ceiling: int | None = None  # 0.01 km/h
    unlock_fast: bool = False
    reference_kmh: float | None = None
    weight_kg: float = 70.0
    week: int = 1
    max_hr: int | None = None  # a clinician's absolute maximum, beats per minute
    age: int | None = None  # years
    measured_max_hr: int | None = None  # max_hr in the runner settings (runner.toml)
    resting_hr: int | None = None  # --resting-hr (or resting_hr in runner.toml), bpm
    hr_reserve_pct: float | None = None  # --hr-reserve-pct: the limit, % of the reserve
    yes: bool = False
    record: Path | None = None
    export: frozenset[str] = frozenset()  # "fit", "tcx": written beside the record at the end
    plain: bool = False
    mqtt_url: str | None = None
    mqtt_id: str | None = None
    mqtt_ca: Path | None = None
    mqtt_cert: Path | None = None
    mqtt_key: Path | None = None
    voice: str | None = None
    cue_dir: Path | None = None
    web: tuple[str, int] | None = None  # --web: (host, port) of the live page
    hr: str | None = None  # --hr: a heart-rate strap's name or address
    sim_hr: bool = False  # --sim-hr: the embedded simulator's strap (and --hr is its name)
    sim_hr_resting: float = 70.0  # the simulated runner, bpm
    sim_hr_max: float = 180.0

    @property
    def simulated(self) -> bool:
        """No ``--device``: the embedded simulator is the treadmill."""
        return self.device is None


@dataclass(frozen=True, slots=True)
class Prepared:
    """A checked ``retrorun run`` request: nothing here can fail on bad input."""

    options: RunOptions
    program: Program
    program_name: str
    profile: RunnerProfile
    preview: Plan
    sim_profile: DeviceProfile | None
    device_profile: DeviceProfile | None
    record_path: Path
    mqtt: MqttSettings | None


def prepare(options: RunOptions) -> Prepared:
    """Check every input; raise ``InputError`` (exit 2) on the first problem."""
    program = load_program(options.program)
    profile = options.profile or RunnerProfile(program.profile)
    preview = plan(
        program,
        profile=profile,
        ceiling=options.ceiling,
        reference_kmh=options.reference_kmh,
        week=options.week,
        unlock_fast=options.unlock_fast,
    )
    sim_profile = None
    if options.simulated:
        sim_profile = (
            load_device_profile(options.sim_profile)
            if options.sim_profile is not None
            else match_device_profile(None)
        )
        from treadsim.faults import parse_fault
        from treadsim.server import initial_state

        for spec in options.sim_faults:
            parse_fault(spec)
        initial_state(sim_profile, speed_kmh=options.sim_initial_speed)
    device_profile = (
        load_device_profile(options.profile_file) if options.profile_file is not None else None
    )
    _heart_rate(options, profile, preview, program.name)  # refused here, before the belt moves
    settings = None
    wants_mqtt = options.mqtt_url or os.environ.get("RETRORUN_MQTT_URL")
    if wants_mqtt or options.mqtt_ca or options.mqtt_cert or options.mqtt_key:
        # Only then: the MQTT client (aiomqtt, paho) costs memory a session without
        # it does not need.
        from retrorun.sinks.mqtt import mqtt_settings

        settings = mqtt_settings(
            options.mqtt_url,
            client_id=options.mqtt_id,
            device_address=options.device or (sim_profile.name if sim_profile else None),
            ca=options.mqtt_ca,
            cert=options.mqtt_cert,
            key=options.mqtt_key,
        )
    record_path = options.record or default_record_path(program.name)
    check_record_path(record_path)
    return Prepared(
        options=options,
        program=program,
        program_name=program.name,
        profile=profile,
        preview=preview,
        sim_profile=sim_profile,
        device_profile=device_profile,
        record_path=record_path,
        mqtt=settings,
    )


def run_cli(options: RunOptions, *, stdout: TextIO | None = None) -> int:
    """The ``retrorun run`` command: returns the process exit code."""
    prepared = prepare(options)
    return clock.run(run_prepared(prepared, stdout=stdout), speedup=options.speedup)


class _Signals:
    """SIGINT/SIGTERM: end the session (the belt stops first), remember the code.

    Several ``run_prepared`` calls may share one loop (a program embedding
    retrorun for a row of treadmills): one handler per signal serves every active
    instance, and it is removed only when the last one is done.
    """

    _active: ClassVar[set[_Signals]] = set()
    _installed: ClassVar[list[int]] = []

    def __init__(self) -> None:
        self.code: int | None = None
        self._session: Session | None = None
        self._main: asyncio.Task[Any] | None = None

    def install(self) -> None:
        self._main = asyncio.current_task()
        if not _Signals._active:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(signum, _Signals._dispatch, signum)
                    _Signals._installed.append(signum)
        _Signals._active.add(self)

    def uninstall(self) -> None:
        _Signals._active.discard(self)
        if _Signals._active:
            return
        loop = asyncio.get_running_loop()
        for signum in _Signals._installed:
            loop.remove_signal_handler(signum)
        _Signals._installed.clear()

    def attach(self, session: Session | None) -> None:
        self._session = session

    @staticmethod
    def _dispatch(signum: int) -> None:
        for signals in list(_Signals._active):
            signals._on_signal(signum)

    def _on_signal(self, signum: int) -> None:
        first = self.code is None
        self.code = 128 + signum
        name = signal.Signals(signum).name
        if self._session is not None:
            self._session.end(EndReason.SIGNAL, f"{name}: stopping the belt")
        elif first and self._main is not None:
            # Not running a session yet: unwinding stops the belt on the way out.
            self._main.cancel(f"{name}")


def build_session(
    prepared: Prepared,
    treadmill: Treadmill,
    *,
    bus: EventBus,
    recorder: Recorder,
    strap: HeartRateStrap | None = None,
) -> Session:
    """The plan for this treadmill (its maximum speed read), its governor, the Session."""
    options = prepared.options
    the_plan = plan(
        prepared.program,
        profile=prepared.profile,
        ceiling=options.ceiling,
        reference_kmh=options.reference_kmh,
        week=options.week,
        device_max=treadmill.device_max_speed,
        unlock_fast=options.unlock_fast,
    )
    heart = _heart_rate(options, prepared.profile, the_plan, prepared.program_name)
    try:
        governor = SafetyGovernor(
            profile=prepared.profile,
            ceiling=the_plan.ceiling,
            speed_range=treadmill.speed_limits,
            incline_range=treadmill.incline_limits,
            # The plan allows a steep backward incline only where the program says so.
            allow_steep=any(
                step.incline > BACKWARD_INCLINE_MAX
                for step in the_plan.steps
                if step.direction is not Direction.FORWARD
            ),
            max_heart_rate=heart.limit,
            decel_kmh_per_s=treadmill.profile.decel_kmh_per_s,
        )
    except ValueError as exc:
        # A machine no backward session can run on safely (e.g. a deck that cannot
        # come down to the backward incline limit): refused before the belt moves.
        raise SafetyStop(
            "unsuitable_treadmill", f"{treadmill.name} is not safe for this session: {exc}"
        ) from exc
    return Session(
        the_plan,
        treadmill,
        governor,
        bus=bus,
        recorder=recorder,
        program_name=prepared.program_name,
        attended=not options.yes,
        weight_kg=options.weight_kg,
        strap=strap,
        hr_guide=HeartRateGuide(heart.zones, increment=treadmill.speed_limits[2])
        if heart.zones
        else None,
    )


def max_heart_rate(
    absolute: int | None, age: int | None, measured: int | None = None
) -> int | None:
    """The heart-rate maximum, in order of precedence (``retrorun.hr.prescribe``).

    A clinician's absolute value wins (formulas do not hold under beta-blockers),
    then a measured maximum from the runner settings, then Tanaka's 208 - 0.7 x age
    (220 - age errs by 10-12 bpm); None when none is known.
    """
    return maximum_heart_rate(absolute, measured, age)


def _heart_rate(
    options: RunOptions, profile: RunnerProfile, the_plan: Plan, name: str
) -> HeartRatePrescription:
    """The session's heart-rate figures and zones (``UsageError``: exit 2)."""
    return prescribe(
        the_plan.steps,
        profile=profile,
        max_hr=options.max_hr,
        measured_max_hr=options.measured_max_hr,
        age=options.age,
        resting_hr=options.resting_hr,
        reserve_pct=options.hr_reserve_pct,
        has_strap=options.hr is not None or options.sim_hr,
        program=name,
    )


async def run_prepared(
    prepared: Prepared,
    *,
    stdout: TextIO | None = None,
    on_session: Callable[[Session], None] | None = None,
    on_simulator: Callable[[Simulator], None] | None = None,
) -> int:
    """Connect, run the session, print the summary; the exit code.

    ``on_session`` is handed the :class:`Session` once it exists, before it runs:
    an embedding program pauses, resumes, stops or nudges it through
    ``Session.request``, ``Session.adjust_speed`` and ``Session.confirm``.
    ``on_simulator`` is handed the embedded simulator once it runs (tests and the
    fault explorer inject faults at chosen moments through ``Simulator.inject``).
    """
    out = stdout if stdout is not None else sys.stdout
    async with contextlib.AsyncExitStack() as claims:
        claim = None
        if prepared.mqtt is not None:
            from retrorun.sinks.mqtt import claim_id

            # One live session per MQTT id: refused (exit 2) before a record or a belt.
            claim = await claims.enter_async_context(await claim_id(prepared.mqtt))
        web = _listen_web(prepared, claims, out)
        return await _run_claimed(prepared, out, claim, on_session, on_simulator, web=web)


async def _run_claimed(
    prepared: Prepared,
    out: TextIO,
    claim: MqttClaim | None,
    on_session: Callable[[Session], None] | None,
    on_simulator: Callable[[Simulator], None] | None,
    *,
    web: WebListener | None = None,
) -> int:
    options = prepared.options
    signals = _Signals()
    signals.install()
    try:
        recorder = Recorder(prepared.record_path, on_error=_warn_stderr)
    except OSError as exc:
        signals.uninstall()
        raise UsageError(f"--record {prepared.record_path}: {exc.strerror or exc}") from exc
    started = False
    result: SessionResult | None = None
    try:
        async with contextlib.AsyncExitStack() as stack:
            simulators: list[Simulator] = []
            treadmill, strap = await _connect(
                prepared, stack, _also(on_simulator, simulators.append)
            )
            bus = EventBus()
            session = build_session(prepared, treadmill, bus=bus, recorder=recorder, strap=strap)
            for simulator in simulators:
                # The simulated runner faces the way the program turns them.
                simulator.facing_backward = _facing_backward(session)
            recorder.start(
                program=prepared.program_name,
                profile=str(prepared.profile),
                ceiling_backward_kmh=to_kmh(session.governor.ceiling),
                device=treadmill.name,
                simulated=options.simulated,
                device_profile=treadmill.profile.name,
                notes=list(treadmill.notes),
                week=options.week,
            )
            started = True
            # A record that stops being written is a warning on every sink at once.
            recorder.on_error = session.warn
            if on_session is not None:
                on_session(session)
            sinks = _start_sinks(prepared, bus, session, out, claim, web=web)
            signals.attach(session)
            try:
                result = await session.run()
            finally:
                signals.attach(None)
                await _finish_sinks(sinks)
    except asyncio.CancelledError:
        if signals.code is None:
            raise
    except RetrorunError:
        recorder.close()
        if started:  # a session ended by an error is exported as far as it went
            _announce(_export(prepared, recorder), out)
        raise
    finally:
        signals.uninstall()
        recorder.close()
    if not started:  # interrupted while connecting: no session, no record, no summary
        return signals.code if signals.code is not None else 1
    exported = _export(prepared, recorder)
    _print_summary(prepared.record_path, recorder, out)
    _announce(exported, out)
    if signals.code is not None:
        return signals.code
    if result is None:
        return 1
    # A session whose record is incomplete did not end as it should: say so in the code.
    return 1 if recorder.error and result.exit_code == 0 else result.exit_code


async def _connect(
    prepared: Prepared,
    stack: contextlib.AsyncExitStack,
    on_simulator: Callable[[Simulator], None] | None = None,
) -> tuple[Treadmill, HeartRateStrap | None]:
    """The treadmill (stopped if it was moving) and, with ``--hr``/``--sim-hr``, the
    heart-rate strap on the same link."""
    options = prepared.options
    if options.simulated:
        from bumble.link import LocalLink

        from treadsim.runtime import Simulator

        if prepared.sim_profile is None:
            raise RuntimeError("internal error: a simulated run without a simulator profile")
        link = LocalLink()
        simulator = await stack.enter_async_context(
            Simulator(
                prepared.sim_profile,
                faults=options.sim_faults,
                local_link=link,
                state_log=options.sim_state_log,
                initial_speed_kmh=options.sim_initial_speed,
                strict=options.sim_strict,
                hr=options.sim_hr,
                hr_resting=options.sim_hr_resting,
                hr_max=options.sim_hr_max,
            )
        )
        if on_simulator is not None:
            on_simulator(simulator)
        ble = await stack.enter_async_context(open_link(local_link=link))
        target = prepared.sim_profile.name
    else:
        if options.device is None:
            raise RuntimeError("internal error: a run on a real treadmill without a device")
        ble = await stack.enter_async_context(open_link(options.hci))
        target = options.device
    # The link, not its kwargs: a reconnect over an HCI transport replaces its host.
    treadmill = Treadmill(target, link=ble, profile=prepared.device_profile)
    await stack.enter_async_context(treadmill)
    strap = None
    if options.hr is not None or options.sim_hr:
        from treadsim.strap import STRAP_NAME

        strap = HeartRateStrap(options.hr or STRAP_NAME, link=ble)
        await stack.enter_async_context(strap)
    return treadmill, strap


def _facing_backward(session: Session) -> Callable[[], bool]:
    def facing() -> bool:
        return session.governor.direction is not Direction.FORWARD

    return facing


def _also(
    first: Callable[[Simulator], None] | None, then: Callable[[Simulator], None]
) -> Callable[[Simulator], None]:
    def both(simulator: Simulator) -> None:
        if first is not None:
            first(simulator)
        then(simulator)

    return both


def _start_sinks(
    prepared: Prepared,
    bus: EventBus,
    session: Session,
    out: TextIO,
    claim: MqttClaim | None = None,
    *,
    web: WebListener | None = None,
) -> list[asyncio.Task[Any]]:
    options = prepared.options
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[Any]] = []

    def spawn(name: str, coro: Awaitable[Any]) -> None:
        async def guarded() -> None:
            try:
                await coro
            except Exception as exc:  # noqa: BLE001 - a sink never ends a session
                session.warn(f"{name} stopped: {exc}")

        tasks.append(loop.create_task(guarded(), name=f"sink-{name}"))

    if options.plain:
        from retrorun.sinks.plain import PlainSink

        spawn("plain", PlainSink(bus.subscribe("plain", maxsize=512), stream=out).run())
        if not options.yes and sys.stdin is not None and sys.stdin.isatty():
            spawn("keys", _plain_keys(session))
    else:
        from retrorun.sinks.tui import GuidanceApp

        shown: tuple[str, str] | None = None
        if web is not None:  # the full screen covers the QR code printed before it
            from retrorun.sinks.web import qr_text

            shown = (web.url, qr_text(web.url))
        app = GuidanceApp(
            bus.subscribe("tui", maxsize=512), session, skip_preflight=options.yes, page=shown
        )
        spawn("tui", app.run_async())
    voice = options.voice
    if voice != "off":
        from retrorun.sinks.voice import VoiceSink, default_voice_mode

        mode, notice = default_voice_mode()
        if voice == "tones":
            mode = "tones"
        if notice and voice is None:
            session.warn(notice)
        sink = VoiceSink(
            bus.subscribe("voice", maxsize=512),
            mode=mode,
            cue_dir=options.cue_dir,
            origin=session.origin_hint(),
            on_notice=session.warn,
        )
        spawn("voice", sink.run())
    if prepared.mqtt is not None:
        from retrorun.sinks.mqtt import MqttSink

        mqtt = MqttSink(
            bus.subscribe("mqtt", maxsize=512),
            session,
            prepared.mqtt,
            on_warning=session.warn,
            claim=claim,
        )
        spawn("mqtt", mqtt.run())
    if web is not None:
        from retrorun.sinks.web import WebSink

        page = WebSink(
            bus.subscribe("web", maxsize=512),
            session,
            web,
            summary=lambda: report_lines(session.recorder.summary),
            origin=session.origin_hint(),
            on_warning=session.warn,
        )
        spawn("web", page.run())
    return tasks


def _listen_web(
    prepared: Prepared, stack: contextlib.ExitStack | contextlib.AsyncExitStack, out: TextIO
) -> WebListener | None:
    """``--web``: bind the page's port before anything connects (a port in use is one
    line and exit 2, never a moving belt), print its address and QR code."""
    if prepared.options.web is None:
        return None
    from retrorun.sinks.web import WebAddress, listen

    host, port = prepared.options.web
    listener = stack.enter_context(listen(WebAddress(host, port)))
    listener.announce(out)
    return listener


_REQUESTS: dict[str, RemoteCommand] = {"stop": "stop", "pause": "pause", "resume": "resume"}


def plain_key(line: str, *, paused: bool) -> str:
    """What a line typed under ``--plain`` asks for, with the display's keys: space or
    ``p`` pauses or resumes, ``s`` pauses (stops the belt, the session stays open:
    pressed again it never restarts it), ``q`` stops the session, ``+``/``-`` nudge
    the speed, and Enter alone confirms. Returns ``pause``, ``resume``, ``stop``,
    ``+``, ``-`` or ``confirm``."""
    text = line.rstrip("\r\n")
    key = text.strip().lower()
    if key in {"q", "quit", "stop"}:
        return "stop"
    if key in {"s", "hold"}:
        return "pause"
    if (text and not key) or key in {"p", "pause", "r", "resume"}:  # space: a toggle
        return "resume" if paused else "pause"
    if key in {"+", "-"}:
        return key
    return "confirm"


async def _plain_keys(session: Session) -> None:
    """Without the full screen, a key and Enter (see :func:`plain_key`)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except (OSError, ValueError):
        return
    while line := await reader.readline():
        action = plain_key(line.decode(errors="replace"), paused=session.paused)
        command = _REQUESTS.get(action)
        if command is not None:
            session.request(command, source="keyboard")
        elif action in {"+", "-"}:
            session.adjust_speed(10 if action == "+" else -10, source="keyboard")
        else:
            session.confirm(source="keyboard")


async def _finish_sinks(tasks: list[asyncio.Task[Any]]) -> None:
    if not tasks:
        return
    # Wall time, not the loop's: what a sink still does (the voice's last words, the
    # broker's goodbye) is real work on real peers, while the loop's clock may be paced
    # (--speedup) or fake (tests) and jump ahead of it.
    everything = asyncio.gather(*tasks, return_exceptions=True)
    await clock.wait_wall(everything, _SINK_GRACE_S)
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        await clock.wait_wall(everything, 1.0)


def _export(prepared: Prepared, recorder: Recorder) -> list[Path]:
    """``--export``: the session as FIT/TCX beside its record; a failure is a warning
    (the session and its record stand whatever happens to the export)."""
    if not prepared.options.export:
        return []
    from retrorun.export import write_exports

    try:
        return write_exports(
            prepared.record_path, set(prepared.options.export), session_id=recorder.session_id
        )
    except (RetrorunError, OSError) as exc:
        _warn_stderr(f"export: {exc}")
        return []


def _announce(exported: list[Path], out: TextIO) -> None:
    with contextlib.suppress(OSError, ValueError):
        for path in exported:
            out.write(f"  exported: {path}\n")


def _warn_stderr(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"retrorun: warning: {message}\n")


def _print_summary(path: Path, recorder: Recorder, out: TextIO) -> None:
    """The report of what this session recorded, folded as it wrote its record (never
    the file read back): the same text ``retrorun report`` prints from the file."""
    lines = [*report_lines(recorder.summary), f"  record: {path}"]
    if recorder.error:
        lines.append(f"  warning: {recorder.error}")
    with contextlib.suppress(OSError, ValueError):
        out.write("\n".join(lines) + "\n")
        out.flush()
