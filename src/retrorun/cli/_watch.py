"""``retrorun watch [URL]``: every treadmill on a broker, live; stop, pause or resume one.

A Textual table in a terminal; ``--json`` one JSON object per change (the
treadmill's ``id`` and its state's fields), ``--plain`` one line of words per
change (also the default when standard output is not a terminal). ``--prefix``
reads treadmills bridged under a prefix (``site/+`` for ``site/<name>/retrorun/...``).
Bad input is one line and exit 2; an unreachable broker is retried, with one
warning per outage. The MQTT client and Textual load in the handler, never here.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from retrorun.errors import UsageError

__all__ = ["register"]

_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``retrorun watch``."""
    p = sub.add_parser(
        "watch",
        help="every treadmill on an MQTT broker, live: stop, pause or resume any of them",
        description=(
            "Show every retrorun session on an MQTT broker, live: a table in a terminal, "
            "or one line per change. Keys: s stop (asks), p pause, r resume (asks), "
            "A stop all (type STOP), o sort, / filter, q quit. Commands are the "
            "cmd/pause, cmd/resume and cmd/stop topics; nothing can raise a speed."
        ),
    )
    p.add_argument(
        "url",
        nargs="?",
        metavar="URL",
        help="mqtt[s]://[user[:password]@]host[:port] (or RETRORUN_MQTT_URL)",
    )
    p.add_argument(
        "--prefix",
        metavar="P",
        help="the treadmills' topics start with P (a bridge's, such as site/+)",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object per line per change")
    out.add_argument("--plain", action="store_true", help="one line of words per change (no table)")
    p.add_argument(
        "--client-id",
        metavar="ID",
        help="keep a session on the broker under this MQTT client id, so QoS 1 events "
        "sent while the watcher is away arrive when it is back",
    )
    p.add_argument("--mqtt-ca", type=Path, metavar="FILE", help="CA certificate for mqtts")
    p.add_argument("--mqtt-cert", type=Path, metavar="FILE", help="client certificate")
    p.add_argument("--mqtt-key", type=Path, metavar="FILE", help="client key")
    p.set_defaults(handler=_watch)


def _watch(args: argparse.Namespace) -> int:
    from retrorun.watch import parse_prefix

    prefix = parse_prefix(args.prefix)
    client_id: str | None = args.client_id
    if client_id is not None and not _ID_RE.fullmatch(client_id):
        raise UsageError("--client-id: use 1 to 64 letters, digits, '_' or '-'")

    import asyncio

    from retrorun.sinks.mqtt import mqtt_settings

    settings = mqtt_settings(
        args.url,
        client_id="retrorun_watch",
        device_address=None,
        ca=args.mqtt_ca,
        cert=args.mqtt_cert,
        key=args.mqtt_key,
    )
    if settings is None:
        raise UsageError("no broker: retrorun watch mqtt://host[:port] (or RETRORUN_MQTT_URL)")
    if args.json or args.plain or not sys.stdout.isatty():
        from retrorun.watch.stream import stream

        asyncio.run(stream(settings, prefix, as_json=args.json, persistent_id=client_id))
        return 0

    from retrorun.watch import Fleet
    from retrorun.watch.client import Watcher
    from retrorun.watch.tui import WatchApp

    app: WatchApp | None = None

    def warn(message: str) -> None:
        if app is not None:
            app.warn(message)

    app = WatchApp(
        lambda on_change: Watcher(
            settings, Fleet(prefix), on_change, on_warning=warn, persistent_id=client_id
        )
    )
    app.run()
    return 0
