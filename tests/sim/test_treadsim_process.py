"""``treadsim`` as a separate process, reached over ``tcp-client:`` (real time)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bleak import BleakClient, BleakScanner

from retrorun.ble import open_link
from retrorun.ftms import TREADMILL_DATA_UUID, RecordAssembler
from treadsim.faults import FAULTS
from treadsim.runtime import read_state_log

pytestmark = pytest.mark.process

BIN = Path(sys.executable).parent


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "treadsim"),
        "--listen",
        "tcp-server:127.0.0.1:0",
        "--quiet",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert "--hci tcp-client:" in line, line
    return proc, line.rsplit("--hci ", 1)[1].strip()


@pytest.fixture
async def treadsim(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    log = tmp_path / "belt.jsonl"
    proc, spec = await _start("--state-log", str(log))
    try:
        yield spec, log
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)


async def test_plain_bleak_reads_live_telemetry_from_a_treadsim_process(
    treadsim: tuple[str, Path],
) -> None:
    spec, log = treadsim
    async with open_link(spec) as ble:
        device = await BleakScanner.find_device_by_name("Generic FTMS", 10, **ble.scanner_kwargs)
        assert device is not None
        records = []
        assembler = RecordAssembler()
        got = asyncio.Event()

        def on_data(_c: object, data: bytearray) -> None:
            record = assembler.feed_bytes(data)
            if record is not None:
                records.append(record)
                if len(records) >= 2:
                    got.set()

        async with BleakClient(device, timeout=10, **ble.client_kwargs) as client:
            await client.start_notify(TREADMILL_DATA_UUID, on_data)
            await asyncio.wait_for(got.wait(), 10)
    assert records[0].speed == 0
    lines = read_state_log(log.read_text())
    assert {
        "t",
        "belt_kmh",
        "target_kmh",
        "incline_pct",
        "running",
        "connected",
        "controlled",
    } <= lines[-1].keys()
    assert any(line["connected"] for line in lines)


def _retrorun(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "retrorun"), *args], capture_output=True, text=True, timeout=60, check=False
    )


async def test_retrorun_scan_and_info_reach_a_treadsim_process(
    treadsim: tuple[str, Path],
) -> None:
    spec, log = treadsim
    scan = await asyncio.to_thread(_retrorun, "scan", "--hci", spec, "--timeout", "3")
    assert scan.returncode == 0, scan.stderr
    assert "Generic FTMS" in scan.stdout
    info = await asyncio.to_thread(_retrorun, "info", "--device", "Generic FTMS", "--hci", spec)
    assert info.returncode == 0, info.stderr
    assert "speed" in info.stdout
    assert "granted" in info.stdout
    assert "device         manufacturer treadsim, model Generic FTMS" in info.stdout
    # info never moves the belt
    assert not any(state["running"] for state in read_state_log(log.read_text()))


async def test_retrorun_scan_lists_the_strap_beside_the_treadmill() -> None:
    proc, spec = await _start("--hr")
    try:
        scan = await asyncio.to_thread(_retrorun, "scan", "--hci", spec, "--timeout", "1.5")
        as_json = await asyncio.to_thread(
            _retrorun, "scan", "--hci", spec, "--timeout", "1.5", "--json"
        )
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
    assert scan.returncode == 0, scan.stderr
    assert "HEART-RATE SENSOR" in scan.stdout
    found = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {f["kind"] for f in found} == {"treadmill", "heart_rate_sensor"}, found


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "warp@3"], "unknown fault"),
        (["--profile", "/nonexistent.toml"], "no such file"),
        (["--speedup", "0.5"], "--speedup"),
        (["--listen", "bogus"], "--listen"),
        (["--fault", "garbage@5/0.01"], "EVERY must be at least 0.1"),
        (["--fault", "drop-link@write0"], "N must be from 1"),
        (["--initial-speed", "30"], "initial speed 30 km/h"),
        (["--initial-speed", "fast"], "--initial-speed takes a number"),
        (["--initial-incline", "inf"], "--initial-incline takes a finite number"),
        (["--initial-incline", "20"], "initial incline 20 %"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = subprocess.run(
        [str(BIN / "treadsim"), *args], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_help_documents_every_fault() -> None:
    done = subprocess.run(
        [str(BIN / "treadsim"), "--help"], capture_output=True, text=True, timeout=30, check=True
    )
    for name in (*FAULTS, "--state-log", "--speedup", "--listen", "--initial-speed"):
        assert name in done.stdout
    for form in ("T/EVERY[xCOUNT]", "T,T,...", "EVENT[N][+DELAY]", "write", "paused", "stopped"):
        assert form in done.stdout


async def test_a_treadsim_process_with_its_belt_already_running(tmp_path: Path) -> None:
    log = tmp_path / "belt.jsonl"
    proc, _spec = await _start(
        "--state-log", str(log), "--initial-speed", "7.5", "--initial-incline", "3"
    )
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            if log.exists() and read_state_log(log.read_text()):
                break
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
    first = read_state_log(log.read_text())[0]
    assert (first["running"], first["belt_kmh"], first["incline_pct"]) == (True, 7.5, 3.0)
    assert (first["paused"], first["writes"], first["connected"]) == (False, 0, False)
