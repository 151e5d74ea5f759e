"""``retrorun run``: a guided session on a treadmill or the embedded simulator.

The option names are an interface (scripts, docs and other tools use them): keep
them. This module turns flags into a checked ``RunOptions``; the session engine
does the rest.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from retrorun.cli._flags import (
    AGE_YEARS,
    HEART_RATE_BPM,
    HR_RESERVE_PCT,
    RESTING_HR_BPM,
    SPEED_KMH,
    SPEEDUP,
    WEEK,
    WEIGHT_KG,
    number,
)
from retrorun.errors import UsageError
from retrorun.limits import RunnerProfile, kmh

if TYPE_CHECKING:
    from retrorun.app import RunOptions

__all__ = ["options_from_args", "register", "web_address"]

_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_SHOWN_CHARS = 40  # of a bad --web value, in its message
_SIM_BPM = (30.0, 240.0)  # a simulated runner's resting and maximum heart rates


def web_address(text: str) -> tuple[str, int]:
    """``--web [HOST:]PORT`` as ``(host, port)``; the host defaults to 127.0.0.1.

    ``8080``, ``0.0.0.0:8080``, ``localhost:8080``, ``[::1]:8080``; port 0 takes any
    free port (the address printed says which). Only the loopback unless a host is
    given: a page that can stop the belt is offered to the network on purpose.
    """
    shown = repr(text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "...")
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        host = "127.0.0.1"
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{shown}: not an IPv6 address in [...]") from None
    elif ":" in host:
        raise argparse.ArgumentTypeError(f"{shown}: write an IPv6 host in brackets, [::1]:8080")
    elif not _HOSTNAME.fullmatch(host):
        raise argparse.ArgumentTypeError(f"{shown}: use [HOST:]PORT, e.g. 8080 or 0.0.0.0:8080")
    if not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
        raise argparse.ArgumentTypeError(f"{shown}: the port must be a number from 0 to 65535")
    return host, int(port_text)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``retrorun run``."""
    p = sub.add_parser(
        "run",
        help="run a guided session (without --device: on the embedded simulator)",
        description=(
            "Run a guided backward-running session. PROGRAM is a library name "
            "(see 'retrorun programs list') or a program file. Without --device the "
            "embedded treadmill simulator is used."
        ),
    )
    p.add_argument("program", metavar="PROGRAM", help="library name or program file")
    dev = p.add_argument_group("treadmill")
    dev.add_argument("--device", metavar="NAME_OR_ADDRESS", help="a real FTMS treadmill")
    dev.add_argument("--hci", metavar="SPEC", help="bumble HCI transport, e.g. usb:0")
    dev.add_argument("--profile-file", type=Path, metavar="FILE", help="your own device profile")
    sim = p.add_argument_group("embedded simulator (no --device)")
    sim.add_argument("--sim-profile", type=Path, metavar="FILE", help="device profile to emulate")
    sim.add_argument(
        "--sim-state-log",
        type=Path,
        metavar="FILE",
        help="append what the simulated belt really did, one JSON line per tick",
    )
    sim.add_argument(
        "--sim-strict",
        action="store_true",
        help="the simulator answers as strictly as FTMS allows (a redundant Start fails)",
    )
    sim.add_argument(
        "--sim-initial-speed",
        type=number(float, (0.0, SPEED_KMH[1])),
        default=0.0,
        metavar="KMH",
        help="the simulated belt already runs at KMH at power-on (a controller that died)",
    )
    sim.add_argument(
        "--sim-fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="simulator fault NAME[@WHEN][:ARG], repeatable (see 'treadsim --help')",
    )
    sim.add_argument(
        "--speedup",
        type=number(float, SPEEDUP),
        default=1.0,
        metavar="N",
        help="run N times faster than real time, 1 to 10000 (simulator only)",
    )
    sim.add_argument(
        "--sim-hr",
        action="store_true",
        help="the simulator also has a heart-rate strap (faults hr-*; see 'treadsim --help')",
    )
    sim.add_argument(
        "--sim-hr-resting",
        type=number(float, _SIM_BPM, unit="bpm"),
        default=70.0,
        metavar="BPM",
        help="the simulated runner's resting heart rate (default 70)",
    )
    sim.add_argument(
        "--sim-hr-max",
        type=number(float, _SIM_BPM, unit="bpm"),
        default=180.0,
        metavar="BPM",
        help="the simulated runner's own maximum (default 180; not the ceiling: see --max-hr)",
    )
    dev.add_argument(
        "--hr",
        metavar="NAME_OR_ADDRESS",
        help="a heart-rate strap or band (Heart Rate Service); its reading wins over the "
        "treadmill's",
    )
    who = p.add_argument_group("runner")
    who.add_argument(
        "--profile",
        choices=[str(x) for x in RunnerProfile],
        help="runner profile (default: the program's)",
    )
    who.add_argument(
        "--ceiling",
        type=number(float, SPEED_KMH, unit="km/h", above_low=True),
        metavar="KMH",
        help="your backward speed ceiling: lowers, never raises, the profile's",
    )
    who.add_argument(
        "--unlock-fast",
        action="store_true",
        help="trained profile: allow a ceiling above 10 km/h (to 12.6)",
    )
    who.add_argument(
        "--reference-kmh",
        type=number(float, SPEED_KMH, unit="km/h", above_low=True),
        metavar="V",
        help="reference speed for steps given as a percentage",
    )
    who.add_argument(
        "--weight-kg",
        type=number(float, WEIGHT_KG, unit="kg"),
        default=70.0,
        metavar="W",
        help="body mass for the energy estimate, 20 to 350 (default 70)",
    )
    who.add_argument(
        "--week", type=number(int, WEEK), default=1, metavar="N", help="progression week"
    )
    who.add_argument(
        "--max-hr",
        type=number(int, HEART_RATE_BPM, unit="bpm"),
        metavar="BPM",
        help="an absolute heart-rate maximum set by a clinician (60-240); wins over max_hr "
        "in runner.toml and over --age",
    )
    who.add_argument(
        "--age",
        type=number(int, AGE_YEARS, unit="years"),
        metavar="YEARS",
        help="the runner's age (10-110): the maximum is 208 - 0.7 x age when no other is known",
    )
    who.add_argument(
        "--resting-hr",
        type=number(int, RESTING_HR_BPM, unit="bpm"),
        metavar="BPM",
        help="resting heart rate (30-120; default resting_hr in runner.toml): the heart-rate "
        "reserve for hr_reserve_pct steps and --hr-reserve-pct",
    )
    who.add_argument(
        "--hr-reserve-pct",
        type=number(float, HR_RESERVE_PCT, unit="%"),
        metavar="PCT",
        help="hold heart rate under resting + PCT %% of (maximum - resting), Karvonen (20-100; "
        "needs --resting-hr; rehab and older-adult default to 80)",
    )
    out = p.add_argument_group("interaction and output")
    out.add_argument(
        "--yes",
        action="store_true",
        help="skip interactive confirmations: turn-arounds continue after their hold",
    )
    out.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="session record (JSON Lines; a session is appended to an existing file)",
    )
    out.add_argument(
        "--export",
        choices=["fit", "tcx", "both"],
        metavar="FORMAT",
        help="also write the session as FIT, TCX or both beside the record (fit, tcx, both)",
    )
    out.add_argument("--plain", action="store_true", help="one line per event, no full screen")
    out.add_argument(
        "--voice", choices=["espeak", "tones", "off"], help="spoken cues (default: espeak)"
    )
    out.add_argument("--cue-dir", type=Path, metavar="DIR", help="also write each cue as a WAV")
    out.add_argument(
        "--web",
        type=web_address,
        metavar="[HOST:]PORT",
        help="serve a live page for a phone behind the treadmill (default host 127.0.0.1; "
        "0.0.0.0:PORT for the local network); prints its address and a QR code",
    )
    mq = p.add_argument_group("MQTT")
    mq.add_argument(
        "--mqtt",
        metavar="URL",
        help="mqtt[s]://[user[:password]@]host[:port] (or RETRORUN_MQTT_URL)",
    )
    mq.add_argument("--mqtt-id", metavar="ID", help="topic id (default: from the device)")
    mq.add_argument("--mqtt-ca", type=Path, metavar="FILE", help="CA certificate for mqtts")
    mq.add_argument("--mqtt-cert", type=Path, metavar="FILE", help="client certificate")
    mq.add_argument("--mqtt-key", type=Path, metavar="FILE", help="client key")
    p.set_defaults(handler=_handle)


def options_from_args(args: argparse.Namespace, *, stdin_is_tty: bool | None = None) -> RunOptions:
    """Check the flags together and build ``RunOptions`` (``UsageError`` on conflict)."""
    from retrorun.app import RunOptions
    from retrorun.hr import load_runner_settings, runner_settings_path

    if args.hci is not None and args.device is None:
        raise UsageError(
            "--hci needs --device NAME_OR_ADDRESS (find it with 'retrorun scan --hci "
            f"{args.hci}'); without --device the embedded simulator runs"
        )
    if args.device is not None and args.speedup != 1.0:
        raise UsageError("--speedup works with the simulator only, never with a real --device")
    if args.device is not None and (args.sim_profile or args.sim_fault):
        raise UsageError("--sim-profile and --sim-fault apply to the simulator, not to --device")
    if args.device is not None and args.sim_state_log is not None:
        raise UsageError("--sim-state-log applies to the simulator, not to --device")
    if args.device is not None and (args.sim_initial_speed or args.sim_strict):
        raise UsageError(
            "--sim-initial-speed and --sim-strict apply to the simulator, not to --device"
        )
    if args.device is not None and args.sim_hr:
        raise UsageError("--sim-hr applies to the simulator, not to --device; use --hr NAME")
    if args.sim_hr_resting >= args.sim_hr_max:
        raise UsageError(
            f"--sim-hr-resting {args.sim_hr_resting:g} must be under --sim-hr-max"
            f" {args.sim_hr_max:g}"
        )
    runner = load_runner_settings(runner_settings_path())
    if stdin_is_tty is None:
        stdin_is_tty = sys.stdin is not None and sys.stdin.isatty()
    if not args.yes and not stdin_is_tty:
        raise UsageError(
            "no terminal to confirm the safety key and turn-arounds on: run in a terminal, "
            "or pass --yes to continue after each hold"
        )
    return RunOptions(
        program=args.program,
        device=args.device,
        hci=args.hci,
        profile_file=args.profile_file,
        sim_profile=args.sim_profile,
        sim_faults=tuple(args.sim_fault),
        sim_state_log=args.sim_state_log,
        sim_initial_speed=args.sim_initial_speed,
        sim_strict=args.sim_strict,
        speedup=args.speedup,
        profile=RunnerProfile(args.profile) if args.profile else None,
        ceiling=kmh(args.ceiling) if args.ceiling is not None else None,
        unlock_fast=args.unlock_fast,
        reference_kmh=args.reference_kmh,
        weight_kg=args.weight_kg,
        week=args.week,
        max_hr=args.max_hr,
        age=args.age,
        measured_max_hr=runner.max_hr,
        resting_hr=args.resting_hr if args.resting_hr is not None else runner.resting_hr,
        hr_reserve_pct=args.hr_reserve_pct,
        yes=args.yes,
        record=args.record,
        export=frozenset({"fit", "tcx"} if args.export == "both" else {args.export} - {None}),
        plain=args.plain or not sys.stdout.isatty(),
        mqtt_url=args.mqtt,
        mqtt_id=args.mqtt_id,
        mqtt_ca=args.mqtt_ca,
        mqtt_cert=args.mqtt_cert,
        mqtt_key=args.mqtt_key,
        voice=args.voice,
        cue_dir=args.cue_dir,
        web=args.web,
        hr=args.hr,
        sim_hr=args.sim_hr,
        sim_hr_resting=args.sim_hr_resting,
        sim_hr_max=args.sim_hr_max,
    )


def _handle(args: argparse.Namespace) -> int:
    from retrorun.app import run_cli

    return run_cli(options_from_args(args))
