"""``retrorun doctor``: is this machine ready for a session? One check per part.

Real adapters, treadmills, straps, speakers and brokers cannot be tested in CI, so
the runner gets a check of their own machine before the first session, as a
package manager's or a home-automation system's doctor does. Each check says what
it found in one line and, when something is wrong, the fix.

A :class:`Check` is ``ok`` (True), wrong (False) or not checked (None: nothing to
check, or a part it needs was missing). ``needed`` says whether a session cannot
run without it: a missing heart-rate strap or speaker is worth knowing, but no
reason to stay off the treadmill; a missing Bluetooth adapter or treadmill is.
:func:`ready` is the verdict, and the command's exit code.

The Bluetooth path is checked where it can fail: on Linux, the system D-Bus, BlueZ
on it, the permission to use it, an adapter and whether it is powered (asked of
BlueZ directly, with the D-Bus library bleak itself uses); with ``--hci``, that the
transport opens and a bumble host powers on over it. Then one scan for FTMS
treadmills and one for heart-rate sensors go through the same link a session
would use (``retrorun.ble.open_link``), with the same finders as ``retrorun scan``.

Nothing here moves a belt: the scans only listen.
"""

from __future__ import annotations

import asyncio
import os
import platform
import secrets
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from retrorun.errors import LinkError, UsageError

__all__ = [
    "MIN_TERMINAL",
    "Check",
    "DoctorOptions",
    "audio_checks",
    "bluez_check",
    "mqtt_check",
    "package_check",
    "python_check",
    "ready",
    "records_check",
    "run_checks",
    "terminal_check",
]

#: The display's smallest useful size: its checklist box is 72 columns wide with
#: its border and padding, and its rows (headline, big digits, step, next, stats,
#: notice, keys) take about 20 lines.
MIN_TERMINAL = (80, 24)
_DBUS_TIMEOUT_S = 5.0
_SOUND_LIMIT_S = 15.0
_SOUND_TEXT = "retrorun sound check. You will hear the cues like this."
_DEFAULT_SYSTEM_BUS = "unix:path=/var/run/dbus/system_bus_socket"


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the doctor's answer."""

    name: str
    ok: bool | None  # None: not checked
    detail: str
    fix: str = ""
    needed: bool = True  # a session cannot run without it

    def to_json_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class DoctorOptions:
    """What to check beyond the machine itself (the command's options)."""

    hci: str | None = None
    mqtt_url: str | None = None
    sound: bool = False
    scan_s: float = 4.0


def _ok(name: str, detail: str, *, needed: bool = True) -> Check:
    return Check(name, ok=True, detail=detail, needed=needed)


def _wrong(name: str, detail: str, fix: str = "", *, needed: bool = True) -> Check:
    return Check(name, ok=False, detail=detail, fix=fix, needed=needed)


def _skipped(name: str, detail: str, *, needed: bool = True) -> Check:
    return Check(name, ok=None, detail=detail, needed=needed)


def ready(checks: Sequence[Check]) -> bool:
    """Whether everything a session needs is there: no needed check went wrong."""
    return not any(check.needed and check.ok is False for check in checks)


# -- Python and packages ---------------------------------------------------------------


def python_check() -> Check:
    """The interpreter, and where it is (the one a virtualenv's ``retrorun`` runs).

    Older than 3.11 never gets here: the package refuses to install there.
    """
    return _ok("python", f"Python {platform.python_version()} ({sys.executable})")


def package_check() -> Check:
    """retrorun's own version and each dependency it declares, installed and in range."""
    from importlib import metadata

    from packaging.requirements import Requirement

    try:
        own = metadata.version("retrorun")
        declared = metadata.requires("retrorun") or []
    except metadata.PackageNotFoundError:
        return _wrong("packages", "retrorun is not installed", "pip install retrorun")
    found: list[str] = [f"retrorun {own}"]
    wrong: list[str] = []
    for line in declared:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # development extras, or another platform's
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{requirement.name} missing")
            continue
        found.append(f"{requirement.name} {version}")
        if not requirement.specifier.contains(version, prereleases=True):
            wrong.append(f"{requirement.name} {version} (wants {requirement.specifier})")
    if wrong:
        return _wrong(
            "packages",
            ", ".join(wrong),
            "pip install --upgrade retrorun (or pip install -e . in a checkout)",
        )
    return _ok("packages", ", ".join(found))


# -- Bluetooth ---------------------------------------------------------------------------

_BLUEZ_FIX = "install BlueZ and start it: sudo systemctl enable --now bluetooth"
_GROUP_FIX = "add yourself to the bluetooth group (sudo usermod -aG bluetooth $USER), log in again"


async def bluez_check(environ: Mapping[str, str] = os.environ) -> Check:
    """BlueZ over the system D-Bus: reachable, allowed, an adapter, powered.

    Asked directly (the ObjectManager of ``org.bluez``), since bleak itself only
    says "no adapter" for most of these, and each has its own fix.
    """
    from dbus_fast import BusType, Message, MessageType
    from dbus_fast.aio import MessageBus
    from dbus_fast.errors import AuthError

    address = environ.get("DBUS_SYSTEM_BUS_ADDRESS") or _DEFAULT_SYSTEM_BUS
    try:
        async with asyncio.timeout(_DBUS_TIMEOUT_S):
            bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    except (OSError, TimeoutError, ValueError, EOFError) as exc:
        return _wrong(
            "bluetooth",
            f"no system D-Bus at {address} ({_reason(exc)})",
            "start D-Bus and BlueZ (sudo systemctl start dbus bluetooth); "
            "in a container, share /run/dbus/system_bus_socket; or use --hci",
        )
    except AuthError as exc:  # the bus would not let us in
        return _wrong("bluetooth", f"the system D-Bus refused us: {exc}", _GROUP_FIX)
    try:
        async with asyncio.timeout(_DBUS_TIMEOUT_S):
            reply = await bus.call(
                Message(
                    destination="org.bluez",
                    path="/",
                    interface="org.freedesktop.DBus.ObjectManager",
                    member="GetManagedObjects",
                )
            )
    except TimeoutError:
        return _wrong("bluetooth", "BlueZ does not answer on the system D-Bus", _BLUEZ_FIX)
    finally:
        bus.disconnect()
    if reply is None or reply.message_type is MessageType.ERROR:
        error = reply.error_name if reply is not None else "no reply"
        if error in {"org.freedesktop.DBus.Error.ServiceUnknown", "org.bluez.Error.NotReady"}:
            return _wrong("bluetooth", "BlueZ is not running", _BLUEZ_FIX)
        if error == "org.freedesktop.DBus.Error.AccessDenied":
            return _wrong("bluetooth", "not allowed to use BlueZ", _GROUP_FIX)
        return _wrong("bluetooth", f"BlueZ answered {error}", _BLUEZ_FIX)
    adapters = {
        path.rsplit("/", 1)[-1]: interfaces["org.bluez.Adapter1"]
        for path, interfaces in sorted(reply.body[0].items())
        if "org.bluez.Adapter1" in interfaces
    }
    if not adapters:
        return _wrong(
            "bluetooth",
            "BlueZ runs but has no Bluetooth adapter",
            "plug in a Bluetooth 4.0+ adapter (rfkill unblock bluetooth if it is blocked), "
            "or use --hci",
        )
    described = [
        f"{name} {_variant(props, 'Address')} "
        f"{'powered' if _variant(props, 'Powered') is True else 'off'}"
        for name, props in adapters.items()
    ]
    if not any(_variant(props, "Powered") is True for props in adapters.values()):
        first = next(iter(adapters))
        return _wrong(
            "bluetooth",
            f"BlueZ adapter {', '.join(described)}",
            f"power it on: bluetoothctl power on (or rfkill unblock bluetooth; adapter {first})",
        )
    return _ok("bluetooth", f"BlueZ adapter {', '.join(described)}")


def _variant(props: Mapping[str, Any], name: str) -> Any:
    value = props.get(name)
    return getattr(value, "value", value)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


async def _bluetooth_checks(options: DoctorOptions) -> list[Check]:
    """The Bluetooth path, then the treadmills and heart-rate sensors heard on it."""
    from retrorun.ble import open_link
    from retrorun.errors import NoAdapterError

    checks: list[Check] = []
    if options.hci is None and sys.platform.startswith("linux"):
        checks.append(await bluez_check())
    elif options.hci is None:  # CoreBluetooth, WinRT: the scan below tells
        checks.append(_ok("bluetooth", f"platform adapter ({sys.platform})"))
    if checks and checks[-1].ok is False:
        return [*checks, *_not_scanned("no Bluetooth")]
    try:
        async with open_link(options.hci) as link:
            if options.hci is not None:
                checks.append(_ok("bluetooth", f"HCI transport {options.hci} opens"))
            checks += await _scans(link.scanner_kwargs, options.scan_s)
    except NoAdapterError as exc:
        if options.hci is None:
            checks[-1] = _wrong("bluetooth", str(exc), _BLUEZ_FIX)
        else:
            checks.append(
                _wrong(
                    "bluetooth",
                    str(exc),
                    "check the transport (usb:0, tcp-client:HOST:PORT, serial:/dev/ttyX) "
                    "and that the dongle is plugged in and not held by BlueZ "
                    "(sudo hciconfig hci0 down)",
                )
            )
        checks += _not_scanned("no Bluetooth")
    return checks


def _not_scanned(why: str) -> list[Check]:
    return [
        _skipped("treadmill", f"not scanned: {why}"),
        _skipped("heart rate", f"not scanned: {why}", needed=False),
    ]


async def _scans(scanner_kwargs: Mapping[str, Any], scan_s: float) -> list[Check]:
    from retrorun.hr import scan_straps
    from retrorun.programs import printable
    from retrorun.treadmill import scan_treadmills

    checks: list[Check] = []
    try:
        treadmills = await scan_treadmills(scan_s, scanner_kwargs=scanner_kwargs)
    except LinkError as exc:
        return [
            _wrong(
                "treadmill",
                f"cannot scan: {exc}",
                "check the adapter (bluetoothctl show) and that no other program scans with it",
            ),
            _skipped("heart rate", "not scanned: the scan failed", needed=False),
        ]
    if treadmills:
        names = ", ".join(
            f"{t.name or '?'} ({t.address}, profile {t.profile.name})" for t in treadmills
        )
        checks.append(_ok("treadmill", printable(names)))
    else:
        checks.append(
            _wrong(
                "treadmill",
                f"no FTMS treadmill heard in {scan_s:g} s",
                "switch it on and wake its console; close any app connected to it "
                "(a treadmill takes one connection); come closer",
            )
        )
    try:
        straps = await scan_straps(scan_s, scanner_kwargs=scanner_kwargs)
    except LinkError as exc:
        checks.append(_wrong("heart rate", f"cannot scan: {exc}", needed=False))
        return checks
    if straps:
        names = ", ".join(f"{s.name or '?'} ({s.address})" for s in straps)
        checks.append(_ok("heart rate", printable(names), needed=False))
    else:
        checks.append(
            _wrong(
                "heart rate",
                f"no heart-rate sensor heard in {scan_s:g} s (a session runs without one)",
                "wear the strap with moistened contacts to wake it; "
                "disconnect it from a watch or phone",
                needed=False,
            )
        )
    return checks


# -- sound -------------------------------------------------------------------------------


def _player() -> list[str] | None:
    """``paplay`` (PulseAudio/PipeWire), else ``aplay`` (ALSA): the voice's own choice."""
    for argv in (["paplay"], ["aplay", "-q"]):
        found = shutil.which(argv[0])
        if found:
            return [found, *argv[1:]]
    return None


async def audio_checks(*, sound: bool = False) -> list[Check]:
    """espeak-ng and a player; with ``sound``, a short spoken test through both.

    Neither is needed for a session (the voice falls back to tones, the display
    and the page show every cue), but a runner facing away from the screen hears
    the cues best.
    """
    espeak = shutil.which("espeak-ng")
    player = _player()
    checks = [
        _ok("speech", f"espeak-ng at {espeak}", needed=False)
        if espeak
        else _wrong(
            "speech",
            "espeak-ng not found: the voice gives countdown tones only",
            "sudo apt install espeak-ng (brew install espeak-ng)",
            needed=False,
        ),
        _ok("audio player", f"{Path(player[0]).name} at {player[0]}", needed=False)
        if player
        else _wrong(
            "audio player",
            "no paplay or aplay: the voice is silent",
            "sudo apt install pulseaudio-utils (paplay) or alsa-utils (aplay)",
            needed=False,
        ),
    ]
    if sound:
        checks.append(await _test_sound(espeak, player))
    return checks


async def _test_sound(espeak: str | None, player: list[str] | None) -> Check:
    """Speak a sentence into a WAV file, then play it: the same two steps as the
    voice (a player, unlike espeak-ng playing by itself, fails without a device)."""
    if espeak is None or player is None:
        return _skipped(
            "test sound", "not played: espeak-ng and a player are both needed", needed=False
        )
    with tempfile.TemporaryDirectory(prefix="retrorun-doctor-") as folder:
        wav = Path(folder) / "check.wav"
        for argv, text in (
            ([espeak, "-w", str(wav), "--stdin"], _SOUND_TEXT),
            ([*player, str(wav)], ""),
        ):
            failed = await _run(argv, text)
            if failed is not None:
                return _sound_failed(f"{Path(argv[0]).name}: {failed}")
    return _ok(
        "test sound",
        f'played "{_SOUND_TEXT}" (heard nothing? raise the volume or pick the output device)',
        needed=False,
    )


async def _run(argv: list[str], text: str) -> str | None:
    """Run ``argv`` with ``text`` on its input: None when it exits 0, else why not."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        return _reason(exc)
    try:
        async with asyncio.timeout(_SOUND_LIMIT_S):
            _, err = await proc.communicate(text.encode())
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return f"took more than {_SOUND_LIMIT_S:g} s"
    if proc.returncode != 0:
        said = err.decode("utf-8", "replace").strip().splitlines()
        return said[0] if said else f"exit code {proc.returncode}"
    return None


def _sound_failed(detail: str) -> Check:
    return _wrong(
        "test sound",
        detail,
        "check the output device and volume (pactl info, aplay -l)",
        needed=False,
    )


# -- records, MQTT, terminal ---------------------------------------------------------------


def records_check() -> Check:
    """The records folder exists (or can be made) and takes a file."""
    from retrorun.record import default_records_dir

    try:
        folder = default_records_dir("--record FILE to retrorun run")
    except UsageError as exc:
        return _wrong("records", str(exc), "set HOME or XDG_DATA_HOME")
    fix = f"make {folder} writable, set XDG_DATA_HOME, or give retrorun run --record FILE"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as exc:
        return _wrong("records", f"{folder} is not writable ({_reason(exc)})", fix)
    return _ok("records", f"{folder} is writable")


async def mqtt_check(url: str | None, environ: Mapping[str, str] = os.environ) -> Check:
    """The broker of ``--mqtt URL`` (or ``RETRORUN_MQTT_URL``) reachable, the
    credentials accepted: one connection, closed at once. A URL that cannot work
    is bad input (``UsageError``); none at all is nothing to check."""
    import ssl

    import aiomqtt
    from aiomqtt.exceptions import MqttConnectError

    from retrorun.sinks.mqtt import mqtt_settings

    settings = mqtt_settings(url, client_id="retrorun_doctor", device_address=None, environ=environ)
    if settings is None:
        return _skipped(
            "mqtt",
            "not configured (--mqtt URL or RETRORUN_MQTT_URL to check a broker)",
            needed=False,
        )
    client = aiomqtt.Client(
        settings.host,
        settings.port,
        username=settings.username,
        password=settings.password,
        identifier=f"retrorun-doctor-{secrets.token_hex(4)}",
        timeout=5.0,
        tls_context=ssl.create_default_context() if settings.tls else None,
    )
    who = f" as {settings.username}" if settings.username else " anonymously"
    try:
        async with client:
            pass
    except MqttConnectError as exc:
        return _wrong(
            "mqtt",
            f"{settings.where} refused the connection{who}: {exc}",
            "check the user and password (in the URL or RETRORUN_MQTT_PASSWORD) "
            "against the broker's password file and ACL",
        )
    except aiomqtt.MqttError as exc:
        return _wrong(
            "mqtt",
            f"cannot reach {settings.where}: {exc}",
            "start the broker, or check the host and port (mqtts:// for TLS, usually 8883)",
        )
    return _ok("mqtt", f"{settings.where} accepted the connection{who}")


def terminal_check(fd: int, environ: Mapping[str, str] = os.environ) -> Check:
    """The terminal on ``fd`` (standard output): its size and its colours, for the
    full-screen display. Not needed: ``retrorun run`` falls back to plain lines."""
    try:
        columns, lines = os.get_terminal_size(fd)
    except OSError:
        return _wrong(
            "terminal",
            "output is not a terminal: retrorun run shows plain lines instead of the display",
            "run retrorun in a terminal window for the big-number display",
            needed=False,
        )
    colours = _colours(environ)
    detail = f"{columns}x{lines}, {colours}"
    wanted_columns, wanted_lines = MIN_TERMINAL
    if columns < wanted_columns or lines < wanted_lines:
        return _wrong(
            "terminal",
            f"{detail}: the display needs {wanted_columns}x{wanted_lines}",
            "enlarge the window or use a smaller font (or retrorun run --plain)",
            needed=False,
        )
    if colours == "no colour":
        return _wrong(
            "terminal",
            f"{detail}: direction is shown in colour as well as words",
            "use a colour terminal (TERM=xterm-256color)",
            needed=False,
        )
    return _ok("terminal", detail, needed=False)


def _colours(environ: Mapping[str, str]) -> str:
    if "NO_COLOR" in environ:
        return "no colour (NO_COLOR is set)"
    term = environ.get("TERM", "")
    if environ.get("COLORTERM", "").lower() in {"truecolor", "24bit"}:
        return "24-bit colour"
    if "256" in term:
        return "256 colours"
    if term in {"", "dumb"}:
        return "no colour"
    return "16 colours"


# -- all of them ---------------------------------------------------------------------------


async def run_checks(options: DoctorOptions, *, terminal_fd: int = 1) -> list[Check]:
    """Every check, in the order the command prints them."""
    checks = [python_check(), package_check()]
    checks += await _bluetooth_checks(options)
    checks += await audio_checks(sound=options.sound)
    checks.append(records_check())
    checks.append(await mqtt_check(options.mqtt_url))
    checks.append(terminal_check(terminal_fd))
    return checks
