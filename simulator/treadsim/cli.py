"""The ``treadsim`` command: a virtual FTMS treadmill another process can reach.

It runs one :class:`~treadsim.runtime.Simulator` on a bumble ``LocalLink`` and
serves a second virtual controller on that link over an HCI transport
(``--listen tcp-server:127.0.0.1:PORT``), so a controller in another process
connects with ``--hci tcp-client:127.0.0.1:PORT`` exactly as it would to a USB
dongle. In a terminal, keys press the console's buttons.

``treadsim --help`` is read more often than a simulator is started: asyncio, the
device profiles (pydantic) and the server load once the arguments are parsed.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from retrorun.errors import RetrorunError, UsageError
from retrorun.logs import configure_logging
from treadsim.faults import FAULTS, parse_fault

if TYPE_CHECKING:
    import asyncio

    from retrorun.devices import DeviceProfile
    from treadsim.runtime import Simulator

__all__ = ["main"]

DEFAULT_LISTEN = "tcp-server:127.0.0.1:9101"


def _faults_help() -> str:
    """The fault list for --help, from the one table the parser uses."""
    lines = ["faults (--fault NAME[@WHEN][:ARG], repeatable):"]
    for name, kind in FAULTS.items():
        spec = name + ("@WHEN" if kind.timed else "") + (f":{kind.arg}" if kind.arg else "")
        lines.append(f"  {spec:<26} {kind.help}")
    return "\n".join(lines) + "\n\n" + _WHEN_HELP + "\n" + _KEYS_HELP


_WHEN_HELP = """\
WHEN (a fault with no @ lasts the whole run):
  T                 once, T seconds after power-on      console-speedup@30:9
  T/EVERY[xCOUNT]   at T, T+EVERY, ... COUNT times      spurious-speed@48/3x10:8
                    (no COUNT: until the end; EVERY >= 0.1 s)
  T,T,...           at each time listed                 spurious-speed@48,51,60:8
  EVENT[N][+DELAY]  at the Nth EVENT (N = 1 if left out), or DELAY s after it:
    write           a control-point write arrives (every write counts, Request
                    Control too); fires before it is answered, and a fault that
                    drops the link loses the write      drop-link@write5
    paused          the belt becomes paused             console-speedup@paused:5.5
    stopped         a belt that ran is now neither running nor paused
                                                        spurious-speed@stopped+2:5.3
"""

_KEYS_HELP = """\
keys (in a terminal): + / - speed, s stop, p pause, g start, k safety key, q quit

examples:
  treadsim --listen tcp-server:127.0.0.1:9101 --profile devices/generic-ftms.toml
  treadsim --fault console-speedup@30:9 --state-log belt.jsonl --speedup 10
  treadsim --initial-speed 8 --fault drop-link@write5 --fault console-incline@60:4
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _speedup(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--speedup takes a number, not {text!r}") from None
    if not value >= 1:
        raise argparse.ArgumentTypeError(f"--speedup must be 1 or more, not {text}")
    return value


def _number(option: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option} takes a number, not {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{option} takes a finite number, not {text}")
        return value

    return parse


def _bpm(option: str) -> Callable[[str], float]:
    number = _number(option)

    def parse(text: str) -> float:
        value = number(text)
        if not 20 <= value <= 250:
            raise argparse.ArgumentTypeError(f"{option} must be from 20 to 250 bpm, not {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="treadsim",
        description=(
            "A virtual FTMS treadmill with its own belt physics, speaking real FTMS over "
            "a virtual Bluetooth link. Reach it with: retrorun scan --hci tcp-client:HOST:PORT"
        ),
        epilog=_faults_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="SPEC",
        help=f"HCI transport to serve (default {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="device profile to emulate (default: the generic FTMS treadmill)",
    )
    parser.add_argument(
        "--fault", action="append", default=[], metavar="SPEC", help="misbehave on request"
    )
    parser.add_argument(
        "--initial-speed",
        type=_number("--initial-speed"),
        default=0.0,
        metavar="KMH",
        help="the belt is already running at KMH at power-on, with no controller "
        "(default 0: stopped)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="answer as strictly as FTMS allows: a redundant Start or Stop is Operation Failed",
    )
    parser.add_argument(
        "--initial-incline",
        type=_number("--initial-incline"),
        default=None,
        metavar="PCT",
        help="the deck is at PCT %% incline at power-on (default: its lowest, 0 where it can)",
    )
    parser.add_argument(
        "--speedup", type=_speedup, default=1.0, metavar="N", help="run N times faster"
    )
    parser.add_argument(
        "--state-log",
        type=Path,
        metavar="FILE",
        help="append one JSON line per physics tick: t, belt_kmh, target_kmh, "
        "incline_pct, running, connected, controlled, paused, writes",
    )
    parser.add_argument(
        "--hr",
        action="store_true",
        help="also a heart-rate strap ('treadsim HR', Heart Rate Service) on the same link; "
        "its runner's heart follows the belt (faults hr-*)",
    )
    parser.add_argument(
        "--hr-resting",
        type=_bpm("--hr-resting"),
        default=70.0,
        metavar="BPM",
        help="the simulated runner's resting heart rate (default 70)",
    )
    parser.add_argument(
        "--hr-max",
        type=_bpm("--hr-max"),
        default=180.0,
        metavar="BPM",
        help="the simulated runner's maximum heart rate (default 180)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not print the belt once a second")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``treadsim``; returns the exit code."""
    configure_logging("treadsim")
    args = build_parser().parse_args(argv)
    from retrorun.devices import load_device_profile, match_device_profile
    from treadsim.server import initial_state

    try:
        profile = (
            load_device_profile(args.profile)
            if args.profile is not None
            else match_device_profile(None)
        )

        for spec in args.fault:
            parse_fault(spec)
        initial_state(profile, speed_kmh=args.initial_speed, incline_pct=args.initial_incline)
        if args.hr and args.hr_resting >= args.hr_max:
            raise UsageError(
                f"--hr-resting {args.hr_resting:g} must be under --hr-max {args.hr_max:g}"
            )
        if not str(args.listen).startswith(("tcp-server:", "unix:", "pty:", "file:")):
            raise UsageError(
                f"--listen {args.listen!r}: expected an HCI server transport such as "
                "tcp-server:127.0.0.1:9101"
            )
        from retrorun import clock

        return clock.run(_serve(profile, args), speedup=args.speedup)
    except RetrorunError as exc:
        print(f"treadsim: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


async def _serve(profile: DeviceProfile, args: argparse.Namespace) -> int:
    import asyncio

    from bumble.link import LocalLink

    from treadsim.gatt import serve_hci
    from treadsim.runtime import Simulator

    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, done.set)
    link = LocalLink()
    try:
        async with Simulator(
            profile,
            faults=args.fault,
            local_link=link,
            state_log=args.state_log,
            initial_speed_kmh=args.initial_speed,
            initial_incline_pct=args.initial_incline,
            strict=args.strict,
            hr=args.hr,
            hr_resting=args.hr_resting,
            hr_max=args.hr_max,
        ) as sim:
            hci = serve_hci(link, args.listen)
            try:
                served = await hci.__aenter__()
            except OSError as exc:
                raise UsageError(f"cannot listen on {args.listen}: {exc.strerror or exc}") from exc
            try:
                print(
                    f"treadsim: {profile.name!r} advertising; connect with "
                    f"--hci {served.replace('tcp-server:', 'tcp-client:')}",
                    flush=True,
                )
                tasks = [loop.create_task(_print_belt(sim, args.quiet))]
                if sys.stdin is not None and sys.stdin.isatty():
                    tasks.append(loop.create_task(_keys(sim, done)))
                await done.wait()
                for task in tasks:
                    task.cancel()
            finally:
                await hci.__aexit__(None, None, None)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.listen}: {exc.strerror or exc}") from exc
    return 0


async def _print_belt(sim: Simulator, quiet: bool) -> None:
    import asyncio

    while True:
        await asyncio.sleep(1.0)
        if quiet:
            continue
        s = sim.state()
        print(
            f"{s['t']:8.1f} s  belt {s['belt_kmh']:5.2f} km/h  target {s['target_kmh']:5.2f}"
            f"  incline {s['incline_pct']:4.1f} %  "
            f"{'running' if s['running'] else 'paused' if s['paused'] else 'stopped'}"
            f"{'  connected' if s['connected'] else ''}{'  controlled' if s['controlled'] else ''}",
            flush=True,
        )


async def _keys(sim: Simulator, done: asyncio.Event) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    server = sim.server
    while line := await reader.readline():
        for key in line.decode(errors="replace").strip():
            if key == "+":
                server.console_speed(+10)
            elif key == "-":
                server.console_speed(-10)
            elif key == "s":
                server.console_stop()
            elif key == "p":
                server.console_pause()
            elif key == "g":
                server.console_start()
            elif key == "k":
                server.safety_key()
            elif key == "q":
                done.set()
                return


if __name__ == "__main__":
    sys.exit(main())
