"""``retrorun scan`` and ``retrorun info``: find and inspect FTMS treadmills.

``info`` says what the machine says of itself (its Device Information Service:
manufacturer, model, firmware), which profile that chose, and whether its telemetry
arrives cut short (``truncating``), so an owner can see at once why a profile applies.

Neither command moves the belt: ``info`` connects, reads and disconnects; the
Treadmill's exit still sends Stop, which a standing belt ignores.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from retrorun.cli._flags import TIMEOUT_S, number

# asyncio, the link, the device profiles (pydantic) and the program library's
# ``printable`` load in the handlers: registering these commands must stay cheap
# for every other command.

__all__ = ["register"]


_timeout = number(float, TIMEOUT_S, unit="s", above_low=True)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``retrorun scan`` and ``retrorun info``."""
    scan = sub.add_parser("scan", help="list FTMS treadmills and heart-rate sensors in range")
    scan.add_argument("--timeout", type=_timeout, default=5.0, metavar="S", help="scan time")
    scan.add_argument("--hci", metavar="SPEC", help="bumble HCI transport (tcp-client:..., usb:0)")
    scan.add_argument("--json", action="store_true", help="one JSON object per treadmill or sensor")
    scan.set_defaults(handler=_scan)

    info = sub.add_parser("info", help="connect and print features, ranges, profile and quirks")
    info.add_argument("--device", required=True, metavar="NAME_OR_ADDRESS")
    info.add_argument("--hci", metavar="SPEC", help="bumble HCI transport (tcp-client:..., usb:0)")
    info.add_argument("--profile-file", metavar="FILE", help="your own device profile")
    info.add_argument("--timeout", type=_timeout, default=10.0, metavar="S", help="scan time")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(handler=_info)


def _scan(args: argparse.Namespace) -> int:
    import asyncio

    from retrorun.ble import open_link
    from retrorun.hr import scan_straps
    from retrorun.programs import printable
    from retrorun.treadmill import scan_treadmills

    async def go() -> int:
        async with open_link(args.hci) as link:
            found = await scan_treadmills(args.timeout, scanner_kwargs=link.scanner_kwargs)
            # A strap advertises about once a second: a shorter second look finds it.
            straps = await scan_straps(
                min(args.timeout, _STRAP_SCAN_S), scanner_kwargs=link.scanner_kwargs
            )
        if args.json:
            for f in found:
                print(json.dumps(_found_dict(f)))
            for strap in straps:
                print(json.dumps(_strap_dict(strap)))
            return 0
        if not found:
            print(f"no FTMS treadmill found in {args.timeout:g} s")
        else:
            print(f"{'NAME':<24} {'ADDRESS':<20} {'RSSI':>5}  {'TYPES':<16} PROFILE")
        for f in found:
            rssi = "" if f.rssi is None else str(f.rssi)
            types = ",".join(f.machine_types) or "-"
            line = f"{f.name:<24} {f.address:<20} {rssi:>5}  {types:<16} {f.profile.name}"
            print(printable(line))  # a name is whatever the device advertises
        if straps:
            print(f"\n{'HEART-RATE SENSOR':<24} {'ADDRESS':<20} {'RSSI':>5}  (use with --hr)")
            for strap in straps:
                rssi = "" if strap.rssi is None else str(strap.rssi)
                print(printable(f"{strap.name or '-':<24} {strap.address:<20} {rssi:>5}"))
        return 0 if found else 1

    return asyncio.run(go())


_STRAP_SCAN_S = 3.0


def _strap_dict(strap: Any) -> dict[str, Any]:
    return {
        "kind": "heart_rate_sensor",
        "name": strap.name,
        "address": strap.address,
        "rssi": strap.rssi,
    }


def _found_dict(f: Any) -> dict[str, Any]:
    return {
        "kind": "treadmill",
        "name": f.name,
        "address": f.address,
        "rssi": f.rssi,
        "machine_types": list(f.machine_types),
        "profile": f.profile.name,
    }


def _info_dict(described: Any) -> dict[str, str] | None:
    """The DIS strings the machine sent (``None`` without the service)."""
    if described is None:
        return None
    fields = ("manufacturer", "model", "serial", "hardware", "firmware", "software")
    return {k: getattr(described, k) for k in fields if getattr(described, k)}


def _info(args: argparse.Namespace) -> int:
    import asyncio

    from retrorun.ble import open_link
    from retrorun.devices import load_device_profile
    from retrorun.ftms import to_json_dict
    from retrorun.programs import printable
    from retrorun.treadmill import Treadmill

    profile = load_device_profile(args.profile_file) if args.profile_file else None

    async def go() -> dict[str, Any]:
        async with open_link(args.hci) as link:
            treadmill = Treadmill(
                args.device,
                client_kwargs=link.client_kwargs,
                scanner_kwargs=link.scanner_kwargs,
                profile=profile,
                scan_timeout=args.timeout,
            )
            async with treadmill:
                if not treadmill.truncating and treadmill.latest is None:
                    await treadmill.next_record(treadmill.watchdog_s)
                speed = treadmill.speed_limits
                incline = treadmill.incline_limits
                return {
                    "name": treadmill.name,
                    "address": treadmill.address,
                    "profile": treadmill.profile.name,
                    "device_information": _info_dict(treadmill.device_info),
                    "truncating": treadmill.truncating,
                    "quirks": {q: n.source for q, n in treadmill.profile.quirks.items()},
                    "features": to_json_dict(treadmill.feature) if treadmill.feature else None,
                    "speed_range_kmh": [speed[0] / 100, speed[1] / 100, speed[2] / 100],
                    "incline_range_pct": [incline[0] / 10, incline[1] / 10, incline[2] / 10],
                    "ranges_from": {
                        "speed": "device" if treadmill.speed_range else "profile",
                        "incline": "device" if treadmill.incline_range else "profile",
                    },
                    "control": "granted" if treadmill.controlled else "not taken",
                    "notes": treadmill.notes,
                }

    info = asyncio.run(go())
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(printable(f"{info['name']} ({info['address']})"))
    described = info["device_information"]
    if described:
        text = ", ".join(f"{k} {v}" for k, v in described.items())
        print(printable(f"  device         {text}"))
    print(f"  profile        {info['profile']}")
    s, i = info["speed_range_kmh"], info["incline_range_pct"]
    print(
        f"  speed          {s[0]:.2f}-{s[1]:.2f} km/h, step {s[2]:.2f} "
        f"({info['ranges_from']['speed']})"
    )
    print(
        f"  incline        {i[0]:.1f}-{i[1]:.1f} %, step {i[2]:.1f} "
        f"({info['ranges_from']['incline']})"
    )
    print(f"  control        {info['control']}")
    if info["truncating"]:
        print("  telemetry      cut at 20 bytes: only the fields that fit are read")
    if info["features"]:
        print(f"  features       {', '.join(info['features'].get('machine', []))}")
        print(f"  targets        {', '.join(info['features'].get('target', []))}")
    for quirk, source in info["quirks"].items():
        print(f"  quirk          {quirk}  ({source})")
    for note in info["notes"]:
        print(printable(f"  note           {note}"))
    return 0
