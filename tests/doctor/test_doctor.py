"""``retrorun doctor`` on this machine: each check against the real thing it checks.

The Bluetooth path against a D-Bus daemon of the test's own (none, one without
BlueZ, one that denies us, and a BlueZ stand-in with an adapter on or off); the
scans over a real bumble HCI transport to the simulator (treadmill and strap)
in this process; the sound tools found (or not) on a PATH of the test's own; the
records folder; a real mosquitto up, down, and refusing a password; the terminal
on a pseudo-terminal of a set size. Real time: the scans listen for real.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import shutil
import stat
import struct
import subprocess
import termios
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from bumble.link import LocalLink
from mqtt_support import Broker, free_port
from sim_support import generic

from retrorun.cli import main
from retrorun.doctor import (
    Check,
    DoctorOptions,
    audio_checks,
    bluez_check,
    mqtt_check,
    ready,
    records_check,
    run_checks,
    terminal_check,
)
from treadsim.gatt import serve_hci
from treadsim.runtime import Simulator

BrokerFactory = Callable[..., Broker]


@pytest.fixture(autouse=True)
def _own_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Records in the test's folder, no broker from the environment."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("RETRORUN_MQTT_URL", raising=False)
    monkeypatch.delenv("RETRORUN_MQTT_PASSWORD", raising=False)


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


# -- Bluetooth: D-Bus and BlueZ ----------------------------------------------------------

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    {extra}
  </policy>
</busconfig>
"""


@contextlib.contextmanager
def system_bus(folder: Path, *, extra: str = "") -> Iterator[str]:
    """A dbus-daemon of our own standing in for the system bus; its address."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        pytest.fail("dbus-daemon not found: apt-get install -y dbus", pytrace=False)
    socket_path = folder / "system_bus_socket"
    config = folder / "bus.conf"
    config.write_text(_BUS_CONFIG.format(socket=socket_path, extra=extra))
    proc = subprocess.Popen(
        [daemon, "--nofork", "--config-file", str(config)], stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(500):
            if socket_path.exists():
                break
            assert proc.poll() is None, "dbus-daemon exited"
            subprocess.run(["sleep", "0.01"], check=True)
        yield f"unix:path={socket_path}"
    finally:
        proc.kill()
        proc.wait()


def _adapter_interface(address: str, powered: bool) -> object:
    """BlueZ's ``org.bluez.Adapter1`` with the two properties the doctor reads."""
    from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property

    def powered_property(_self: object) -> bool:
        return powered

    def address_property(_self: object) -> str:
        return address

    # dbus_fast reads D-Bus signatures from the annotations: set them here, since a
    # signature is no Python expression.
    powered_property.__annotations__["return"] = "b"
    address_property.__annotations__["return"] = "s"
    powered_property.__name__ = "Powered"
    address_property.__name__ = "Address"
    adapter = type(
        "Adapter1",
        (ServiceInterface,),
        {
            "Powered": dbus_property(access=PropertyAccess.READ)(powered_property),
            "Address": dbus_property(access=PropertyAccess.READ)(address_property),
        },
    )
    return adapter("org.bluez.Adapter1")


@contextlib.asynccontextmanager
async def fake_bluez(address: str, adapters: dict[str, bool]) -> AsyncIterator[None]:
    """``org.bluez`` on the bus at ``address`` with ``adapters`` (name -> powered)
    exported where BlueZ puts them; dbus_fast's own ObjectManager answers
    ``GetManagedObjects`` for them, as BlueZ's does."""
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_address=address).connect()
    for i, (name, powered) in enumerate(adapters.items()):
        bus.export(f"/org/bluez/{name}", _adapter_interface(f"00:11:22:33:44:{i:02X}", powered))
    await bus.request_name("org.bluez")
    try:
        yield
    finally:
        bus.disconnect()


async def test_no_system_bus_is_no_bluetooth_with_its_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    address = f"unix:path={tmp_path}/no-bus"
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
    check = await bluez_check()
    assert check.ok is False
    assert check.needed
    assert check.detail == f"no system D-Bus at {address} (No such file or directory)"
    assert "systemctl start dbus bluetooth" in check.fix
    assert "--hci" in check.fix


async def test_a_bus_without_bluez(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with system_bus(tmp_path) as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        check = await bluez_check()
    assert (check.ok, check.detail) == (False, "BlueZ is not running")
    assert "systemctl enable --now bluetooth" in check.fix


async def test_a_bus_that_does_not_let_us_reach_bluez(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with system_bus(tmp_path, extra='<deny send_destination="org.bluez"/>') as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        async with fake_bluez(address, {"hci0": True}):
            check = await bluez_check()
    assert (check.ok, check.detail) == (False, "not allowed to use BlueZ")
    assert "usermod -aG bluetooth" in check.fix


@pytest.mark.parametrize(
    ("adapters", "ok", "detail", "fix"),
    [
        ({"hci0": True}, True, "BlueZ adapter hci0 00:11:22:33:44:00 powered", ""),
        (
            {"hci0": False},
            False,
            "BlueZ adapter hci0 00:11:22:33:44:00 off",
            "bluetoothctl power on",
        ),
        ({}, False, "BlueZ runs but has no Bluetooth adapter", "plug in a Bluetooth 4.0+ adapter"),
        (
            {"hci0": False, "hci1": True},
            True,
            "BlueZ adapter hci0 00:11:22:33:44:00 off, hci1 00:11:22:33:44:01 powered",
            "",
        ),
    ],
    ids=["powered", "off", "none", "one-of-two"],
)
async def test_bluez_adapters_found_and_powered(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    adapters: dict[str, bool],
    ok: bool,
    detail: str,
    fix: str,
) -> None:
    with system_bus(tmp_path) as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        async with fake_bluez(address, adapters):
            check = await bluez_check()
    assert (check.ok, check.detail) == (ok, detail)
    assert fix in check.fix


# -- Bluetooth: an HCI transport and the scans -----------------------------------------------


@contextlib.asynccontextmanager
async def treadmill_on_hci(*, hr: bool) -> AsyncIterator[str]:
    """The simulator (with its strap when ``hr``) served on a TCP HCI transport."""
    link = LocalLink()
    async with (
        Simulator(generic(), local_link=link, hr=hr),
        serve_hci(link, "tcp-server:127.0.0.1:0") as spec,
    ):
        yield spec.replace("tcp-server:", "tcp-client:")


@pytest.mark.process
async def test_the_scan_names_the_treadmill_and_the_strap_over_hci() -> None:
    async with treadmill_on_hci(hr=True) as spec:
        checks = by_name(await run_checks(DoctorOptions(hci=spec, scan_s=1.0)))
    assert checks["bluetooth"] == Check("bluetooth", True, f"HCI transport {spec} opens")
    assert checks["treadmill"].ok is True
    assert checks["treadmill"].detail.startswith("Generic FTMS (")
    assert checks["treadmill"].detail.endswith(", profile Generic FTMS)")
    assert checks["heart rate"].ok is True
    assert checks["heart rate"].detail.startswith("treadsim HR (")


@pytest.mark.process
async def test_no_strap_is_shown_but_a_session_can_still_run() -> None:
    async with treadmill_on_hci(hr=False) as spec:
        checks = await run_checks(DoctorOptions(hci=spec, scan_s=1.0))
    strap = by_name(checks)["heart rate"]
    assert (strap.ok, strap.needed) == (False, False)
    assert strap.detail == "no heart-rate sensor heard in 1 s (a session runs without one)"
    assert by_name(checks)["treadmill"].ok is True
    assert ready(checks)  # the terminal and the speaker are not needed either


def test_an_hci_transport_that_does_not_open_is_exit_1_with_the_fix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = f"tcp-client:127.0.0.1:{free_port()}"
    assert main(["doctor", "--hci", spec]) == 1
    lines = capsys.readouterr().out.splitlines()
    (bluetooth,) = [line for line in lines if line.startswith("✗ bluetooth")]
    assert f"cannot open HCI transport {spec}" in bluetooth
    assert "— fix: check the transport" in bluetooth
    assert "- treadmill    not scanned: no Bluetooth" in lines
    assert lines[0].startswith("✓ python       Python 3.")
    assert lines[-1] == "not ready: fix bluetooth first"


def test_json_says_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    spec = f"tcp-client:127.0.0.1:{free_port()}"
    assert main(["doctor", "--json", "--hci", spec]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["ready"] is False
    names = [check["name"] for check in answer["checks"]]
    assert names == [
        "python",
        "packages",
        "bluetooth",
        "treadmill",
        "heart rate",
        "speech",
        "audio player",
        "records",
        "mqtt",
        "terminal",
    ]
    assert answer["checks"][2]["ok"] is False
    assert answer["checks"][2]["needed"] is True
    assert answer["checks"][8] == {
        "name": "mqtt",
        "ok": None,
        "detail": "not configured (--mqtt URL or RETRORUN_MQTT_URL to check a broker)",
        "fix": "",
        "needed": False,
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--hci", "bogus"], "retrorun: --hci 'bogus': expected an HCI transport"),
        (["--mqtt", "http://broker"], "retrorun: bad MQTT URL: use mqtt://"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["doctor", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before any check ran
    (line,) = captured.err.splitlines()
    assert line.startswith(message)


def test_a_bad_scan_time_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["doctor", "--timeout", "0"])
    assert exited.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "argument --timeout: must be above 0" in line


# -- sound -------------------------------------------------------------------------------


def _tool(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


async def test_no_speech_engine_and_no_player(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there
    speech, player = await audio_checks()
    assert (speech.ok, speech.needed) == (False, False)
    assert "apt install espeak-ng" in speech.fix
    assert (player.ok, player.needed) == (False, False)
    assert player.detail == "no paplay or aplay: the voice is silent"
    assert "pulseaudio-utils" in player.fix


async def test_the_test_sound_is_spoken_to_a_file_then_played(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    _tool(tmp_path, "espeak-ng", f'echo "espeak $*" >> {log}; /bin/cat > "$2"')
    _tool(tmp_path, "paplay", f'echo "paplay $*" >> {log}; /bin/cat "$1" >> {log}')
    monkeypatch.setenv("PATH", str(tmp_path))
    speech, player, sound = await audio_checks(sound=True)
    assert speech.detail == f"espeak-ng at {tmp_path / 'espeak-ng'}"
    assert player.detail == f"paplay at {tmp_path / 'paplay'}"
    assert sound.ok is True
    spoken, played, text = log.read_text().splitlines()
    wav = spoken.split()[2]
    assert spoken == f"espeak -w {wav} --stdin"
    assert played == f"paplay {wav}"
    assert text.startswith("retrorun sound check")


async def test_a_player_without_a_device_fails_the_test_sound(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _tool(tmp_path, "espeak-ng", '/bin/cat > "$2"')
    _tool(tmp_path, "aplay", "echo 'aplay: main:831: audio open error: No such file' >&2; exit 1")
    monkeypatch.setenv("PATH", str(tmp_path))
    *_, sound = await audio_checks(sound=True)
    assert (sound.ok, sound.needed) == (False, False)
    assert sound.detail == "aplay: aplay: main:831: audio open error: No such file"
    assert "aplay -l" in sound.fix


# -- records -------------------------------------------------------------------------------


def test_the_records_folder_is_made_and_writable(tmp_path: Path) -> None:
    check = records_check()
    folder = tmp_path / "data" / "retrorun" / "sessions"
    assert check == Check("records", True, f"{folder} is writable")
    assert folder.is_dir()
    assert list(folder.iterdir()) == []  # the probe file is gone


def test_a_records_folder_that_cannot_be_made(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    check = records_check()
    assert check.ok is False
    assert check.needed
    assert check.detail == f"{blocker}/retrorun/sessions is not writable (Not a directory)"
    assert "--record FILE" in check.fix


# -- MQTT ----------------------------------------------------------------------------------


@pytest.mark.process
async def test_a_broker_up_accepts_us(make_broker: BrokerFactory) -> None:
    broker = make_broker()
    check = await mqtt_check(broker.url)
    assert check == Check("mqtt", True, f"{broker.url} accepted the connection anonymously")


@pytest.mark.process
async def test_a_broker_down_is_unreachable(make_broker: BrokerFactory) -> None:
    broker = make_broker()
    broker.stop()
    check = await mqtt_check(broker.url)
    assert check.ok is False
    assert check.detail.startswith(f"cannot reach {broker.url}: ")
    assert "start the broker" in check.fix


@pytest.mark.process
async def test_credentials_refused_and_accepted(make_broker: BrokerFactory) -> None:
    broker = make_broker(users={"runner": "s3cret"})
    where = f"mqtt://127.0.0.1:{broker.port}"
    wrong = await mqtt_check(f"mqtt://runner:nope@127.0.0.1:{broker.port}")
    assert wrong.ok is False
    assert wrong.detail.startswith(f"{where} refused the connection as runner: ")
    assert "RETRORUN_MQTT_PASSWORD" in wrong.fix
    assert "nope" not in wrong.detail
    right = await mqtt_check(
        f"mqtt://runner@127.0.0.1:{broker.port}", {"RETRORUN_MQTT_PASSWORD": "s3cret"}
    )
    assert right == Check("mqtt", True, f"{where} accepted the connection as runner")


# -- terminal ------------------------------------------------------------------------------


@contextlib.contextmanager
def terminal(columns: int, lines: int) -> Iterator[int]:
    """A pseudo-terminal of that size; its descriptor."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    try:
        yield follower
    finally:
        os.close(follower)
        os.close(leader)


@pytest.mark.parametrize(
    ("size", "environ", "ok", "detail"),
    [
        ((120, 40), {"TERM": "xterm", "COLORTERM": "truecolor"}, True, "120x40, 24-bit colour"),
        ((80, 24), {"TERM": "xterm-256color"}, True, "80x24, 256 colours"),
        ((79, 30), {"TERM": "xterm"}, False, "79x30, 16 colours: the display needs 80x24"),
        ((100, 30), {"TERM": "dumb"}, False, "100x30, no colour: direction is shown in colour"),
        ((100, 30), {"TERM": "xterm", "NO_COLOR": "1"}, True, "100x30, no colour (NO_COLOR"),
    ],
)
def test_the_terminal_size_and_colours(
    size: tuple[int, int], environ: dict[str, str], ok: bool, detail: str
) -> None:
    with terminal(*size) as fd:
        check = terminal_check(fd, environ)
    assert check.ok is ok
    assert check.detail.startswith(detail)
    assert not check.needed


def test_output_that_is_no_terminal() -> None:
    read, write = os.pipe()
    try:
        check = terminal_check(write, {"TERM": "xterm"})
    finally:
        os.close(read)
        os.close(write)
    assert check.ok is False
    assert check.detail.startswith("output is not a terminal")
