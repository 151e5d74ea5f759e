"""``retrorun doctor``: a check of this machine before the first session.

One line per check, ✓ or ✗ (a dash for what was not checked), what was found and, when
something is wrong, the fix; then the verdict. Exit 0 when everything a session
needs is there, 1 otherwise (a missing strap or speaker is shown, and does not
count). ``--json`` prints the same as one object. The checks are in
``retrorun.doctor``, loaded by the handler: registering the command stays cheap.
"""

from __future__ import annotations

import argparse
import json

from retrorun.cli._flags import TIMEOUT_S, number

__all__ = ["register"]

_MARKS = {True: "✓", False: "✗", None: "-"}
_NAME_WIDTH = 13


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``retrorun doctor``."""
    doctor = sub.add_parser(
        "doctor",
        help="check this machine for a session: Bluetooth, treadmill, sound, records, MQTT",
        description=(
            "Check this machine before a session, one line each with the fix: Python and "
            "packages, the Bluetooth path (BlueZ, adapter, permission, or the --hci "
            "transport), a scan for FTMS treadmills and heart-rate sensors, espeak-ng and "
            "an audio player, the records folder, the MQTT broker, the terminal. Exit 0 "
            "when everything a session needs is there, 1 otherwise. Nothing moves a belt."
        ),
    )
    doctor.add_argument(
        "--hci", metavar="SPEC", help="bumble HCI transport (tcp-client:..., usb:0)"
    )
    doctor.add_argument(
        "--mqtt",
        metavar="URL",
        help="mqtt[s]://[user[:password]@]host[:port] to check (or RETRORUN_MQTT_URL)",
    )
    doctor.add_argument("--sound", action="store_true", help="play a short spoken test sound")
    doctor.add_argument(
        "--timeout",
        type=number(float, TIMEOUT_S, unit="s", above_low=True),
        default=4.0,
        metavar="S",
        help="scan time for treadmills, and again for heart-rate sensors (default 4)",
    )
    doctor.add_argument("--json", action="store_true", help="print one JSON object")
    doctor.set_defaults(handler=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    import asyncio
    import sys

    from retrorun.doctor import DoctorOptions, ready, run_checks
    from retrorun.programs import printable

    options = DoctorOptions(hci=args.hci, mqtt_url=args.mqtt, sound=args.sound, scan_s=args.timeout)
    try:
        terminal = sys.stdout.fileno()
    except (OSError, ValueError):  # a stream with no descriptor (io.UnsupportedOperation)
        terminal = -1  # which no terminal has
    checks = asyncio.run(run_checks(options, terminal_fd=terminal))
    verdict = ready(checks)
    if args.json:
        payload = {"ready": verdict, "checks": [check.to_json_dict() for check in checks]}
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0 if verdict else 1
    for check in checks:
        line = f"{_MARKS[check.ok]} {check.name:<{_NAME_WIDTH}}{check.detail}"
        if check.ok is False and check.fix:
            line += f" — fix: {check.fix}"
        print(printable(line))
    if verdict:
        print("ready: everything a session needs is here")
        return 0
    missing = [c.name for c in checks if c.needed and c.ok is False]
    print(f"not ready: fix {', '.join(missing)} first")
    return 1
