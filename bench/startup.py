"""What retrorun costs before and around a session: start-up, memory, CPU at 1x.

Run: ``.venv/bin/python bench/startup.py`` (about 4 minutes: one section runs the
demo program at 1x). Every figure is printed beside the floor it is held to,
measured in the same run, interleaved, so that both see the same machine load:

1. wall time of ``retrorun --help``, ``retrorun ftms decode ...`` and ``treadsim
   --help`` (fresh processes, best of ``RUNS``) against ``python -c "import bleak"``;
   target 1.5x the floor;
2. peak RSS of ``retrorun run demo --plain`` (at ``--speedup 50``: memory does not
   depend on the pace) against a process that imports bleak and the bumble modules
   the link uses; target the floor + 10 MiB;
3. CPU per session minute at 1x: the demo with the embedded simulator (what
   ``retrorun run demo`` does without ``--device``), and at the same time the
   controller alone, reaching treadsim in another process over HCI (what runs on the
   board beside a real treadmill); target 0.10 CPU s; and what one sleep and wake of
   an idle event loop costs on this machine;
4. where the event loop's timer wake-ups come from in an embedded session, per
   simulated second (the same program at ``--speedup 60``, in process);
5. the CPU bumble spends formatting debug strings for its HCI packets with logging
   off (its host and controller format every packet as it passes), per session
   minute: the packets of section 4's session formatted again as bumble does.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from figures import verdict

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PYTHON = sys.executable
RUNS = 15
RSS_RUNS = 3
MIB = 1024 * 1024

WALL_TARGET = 1.5
RSS_TARGET_MIB = 10.0
CPU_TARGET = 0.10  # CPU s per session minute at 1x

FLOOR_IMPORT = ["-c", "import bleak"]
FLOOR_LINK = [
    "-c",
    (
        "import bleak, bumble.device, bumble.host, bumble.controller, bumble.gatt, "
        "bumble.link, bumble.transport"
    ),
]
# What validating one program or device profile brings along (retrorun.programs and
# retrorun.devices are pydantic models).
PYDANTIC_MODEL = "import pydantic\nclass A(pydantic.BaseModel):\n    x: int\nA(x=1)"
DECODE = ["ftms", "decode", "treadmill-data", "0404f4014001003c00"]


# ------------------------------------------------------------------ processes


def run_child(argv: Sequence[str], **kwargs: Any) -> tuple[float, resource.struct_rusage, int]:
    """Wall seconds, resource usage and exit status of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, **kwargs)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage, proc.returncode


def best_walls(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Best wall time of each command, the commands taking turns run after run."""
    best = dict.fromkeys(commands, float("inf"))
    for _ in range(runs):
        for name, argv in commands.items():
            wall, _, code = run_child(argv, stdout=subprocess.DEVNULL)
            if code != 0:
                raise SystemExit(f"bench/startup.py: {' '.join(argv)} exited {code}")
            best[name] = min(best[name], wall)
    return best


# ------------------------------------------------------------------ 1. start-up


def startup() -> None:
    commands = {
        "python -c pass": [PYTHON, "-c", "pass"],
        "floor: python -c 'import bleak'": [PYTHON, *FLOOR_IMPORT],
        "retrorun --help": [str(BIN / "retrorun"), "--help"],
        "retrorun ftms decode treadmill-data HEX": [str(BIN / "retrorun"), *DECODE],
        "treadsim --help": [str(BIN / "treadsim"), "--help"],
    }
    best = best_walls(commands, RUNS)
    floor = best["floor: python -c 'import bleak'"]
    print(f"1. start-up wall time, best of {RUNS} fresh processes (taking turns)")
    print(f"   {'command':<44}{'ms':>8}  {'ratio to floor':>14}")
    for name, seconds in best.items():
        ratio = "" if name.startswith(("floor", "python -c pass")) else f"{seconds / floor:.2f}x"
        print(f"   {name:<44}{seconds * 1e3:>8.1f}  {ratio:>14}")
    worst = max(best[n] / floor for n in list(commands)[2:])
    print(
        f"   target each <= {WALL_TARGET:g}x the floor: worst {worst:.2f}x"
        f"  {verdict(worst <= WALL_TARGET)}"
    )


# ------------------------------------------------------------------ 2. memory


def max_rss(argv: Sequence[str], scratch: Path) -> int:
    """Peak RSS in bytes of ``argv``, started by ``/usr/bin/time`` where there is one.

    A child forked from this process counts this process's pages until it execs, so
    its own ``ru_maxrss`` cannot go below this process's size; ``time`` is small.
    """
    timer = Path("/usr/bin/time")
    if timer.exists():
        _, _, code = run_child(
            [str(timer), "-f", "%M", "-o", str(scratch), *argv], stdout=subprocess.DEVNULL
        )
        kib = int(scratch.read_text().split()[-1])
    else:
        _, usage, code = run_child(argv, stdout=subprocess.DEVNULL)
        kib = usage.ru_maxrss
    if code != 0:
        raise SystemExit(f"bench/startup.py: {' '.join(argv)} exited {code}")
    return kib * 1024


def peak_rss() -> None:
    with tempfile.TemporaryDirectory(prefix="retrorun-bench-") as tmp:
        record = Path(tmp) / "demo.jsonl"
        commands = {
            "floor: bleak + bumble link modules": [PYTHON, *FLOOR_LINK],
            "python -c pass": [PYTHON, "-c", "pass"],
            "python: pydantic and one model": [PYTHON, "-c", PYDANTIC_MODEL],
            # What pydantic costs on top of what a session must load anyway.
            "floor + pydantic and one model": [
                PYTHON,
                "-c",
                f"{FLOOR_LINK[1]}\n{PYDANTIC_MODEL}",
            ],
            "floor + retrorun.programs and .devices": [
                PYTHON,
                "-c",
                f"{FLOOR_LINK[1]}\nimport retrorun.programs, retrorun.devices",
            ],
            "python -c 'import retrorun.app'": [PYTHON, "-c", "import retrorun.app"],
            "retrorun run demo --plain": [
                str(BIN / "retrorun"),
                "run",
                "demo",
                "--plain",
                "--yes",
                "--voice",
                "off",
                "--speedup",
                "50",
                "--record",
                str(record),
            ],
        }
        peaks = dict.fromkeys(commands, 0)
        for _ in range(RSS_RUNS):
            for name, argv in commands.items():
                peaks[name] = max(peaks[name], max_rss(argv, Path(tmp) / "rss"))
            record.unlink(missing_ok=True)
    floor = peaks["floor: bleak + bumble link modules"]
    print(
        f"\n2. peak RSS (maximum resident set), the largest of {RSS_RUNS} runs each (taking turns)"
    )
    print("   retrorun run demo --plain --yes --voice off --speedup 50 --record TMP")
    print(f"   {'process':<44}{'MiB':>8}  {'over floor':>10}")
    for name, peak in peaks.items():
        shown = "" if name.startswith("floor:") else f"{(peak - floor) / MIB:+.1f}"
        print(f"   {name:<44}{peak / MIB:>8.1f}  {shown:>10}")
    over = (peaks["retrorun run demo --plain"] - floor) / MIB
    ok = over <= RSS_TARGET_MIB
    print(f"   target <= floor + {RSS_TARGET_MIB:g} MiB: {over:+.1f} MiB  {verdict(ok)}")


# ------------------------------------------------------------------ 3. CPU at 1x


def session_child(device: str | None, hci: str | None) -> None:
    """In a fresh interpreter: the demo at 1x; one JSON line of figures."""
    from retrorun import clock
    from retrorun.app import RunOptions, prepare, run_prepared

    with tempfile.TemporaryDirectory(prefix="retrorun-bench-") as tmp:
        options = RunOptions(
            program="demo",
            device=device,
            hci=hci,
            yes=True,
            plain=True,
            voice="off",
            record=Path(tmp) / "demo.jsonl",
        )
        prepared = prepare(options)
        cpu, wall = time.process_time(), time.perf_counter()
        with Path(os.devnull).open("w", encoding="utf-8") as sink:
            code = clock.run(run_prepared(prepared, stdout=sink))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"code": code, "cpu": cpu, "wall": wall, "peak": usage.ru_maxrss * 1024}))


def _child_figures(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"bench/startup.py: a session child exited {proc.returncode}")
    figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return figures


@contextmanager
def treadsim_process() -> Iterator[tuple[str, str, subprocess.Popen[str]]]:
    """treadsim on a free loopback port: (its name, the client's --hci, the process)."""
    proc = subprocess.Popen(
        [str(BIN / "treadsim"), "--listen", "tcp-server:127.0.0.1:0", "--quiet"],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"'(.+)' advertising; connect with --hci (\S+)", line)
        if found is None:
            raise SystemExit(f"bench/startup.py: treadsim said {line!r}")
        yield found.group(1), found.group(2), proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def idle_wake_cost(hz: float = 10.0, seconds: float = 5.0) -> float:
    """CPU seconds one sleep-and-wake of an otherwise idle event loop costs here."""

    async def tick() -> float:
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        cpu = time.process_time()
        for _ in range(round(hz * seconds)):
            deadline += 1 / hz
            await asyncio.sleep(max(deadline - loop.time(), 0.0))
        return time.process_time() - cpu

    return asyncio.run(tick()) / round(hz * seconds)


def cpu_at_1x() -> None:
    me = [PYTHON, str(Path(__file__).resolve()), "--session-child"]
    with treadsim_process() as (name, hci, sim):
        embedded = subprocess.Popen(me, stdout=subprocess.PIPE, text=True)
        alone = subprocess.Popen(
            [*me, "--device", name, "--hci", hci], stdout=subprocess.PIPE, text=True
        )
        with_sim, without = _child_figures(embedded), _child_figures(alone)
        sim_cpu = _proc_cpu(sim.pid)
    wake = idle_wake_cost()
    print("\n3. CPU per session minute at 1x: the demo program, both sessions at the same time")
    print(f"   {'session':<58}{'wall s':>8}{'CPU s':>8}{'CPU s/min':>11}")
    for label, figures in (
        ("embedded simulator, one process (retrorun run demo)", with_sim),
        ("the controller alone (treadsim in another process)", without),
    ):
        per_min = figures["cpu"] / (figures["wall"] / 60)
        print(f"   {label:<58}{figures['wall']:>8.1f}{figures['cpu']:>8.2f}{per_min:>11.3f}")
    if sim_cpu is not None:
        print(f"   (the treadsim process, start to end, used {sim_cpu:.2f} CPU s)")
    print(
        f"   one sleep and wake of an idle event loop (10 Hz, 5 s): {wake * 1e6:.0f} us CPU"
        f" = {wake * 10 * 60:.3f} CPU s per minute for a 10 Hz timer alone"
    )
    for label, figures in (("embedded", with_sim), ("controller alone", without)):
        per_min = figures["cpu"] / (figures["wall"] / 60)
        ok = per_min <= CPU_TARGET
        print(
            f"   target <= {CPU_TARGET:g} CPU s per minute, {label}: {per_min:.3f}  {verdict(ok)}"
        )


def _proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a live process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


# ------------------------------------------------------------------ 4. wake-ups, 5. bumble


def _sleeper(frame: Any) -> str:
    """The coroutine that called ``asyncio.sleep`` (the first frame outside asyncio)."""
    while frame is not None and "asyncio" in frame.f_code.co_filename:
        frame = frame.f_back
    if frame is None:
        return "?"
    path = Path(frame.f_code.co_filename)
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    return f"{frame.f_code.co_qualname} ({where})"


def wakeups_and_debug_strings(minutes: float = 3.0, speedup: float = 60.0) -> None:
    from bumble.colors import color
    from bumble.controller import Controller
    from bumble.host import Host

    from retrorun import clock
    from retrorun.app import RunOptions, prepare, run_prepared

    timers: collections.Counter[str] = collections.Counter()
    iterations = [0]
    packets: list[tuple[str, Any, str]] = []
    restore: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = getattr(owner, name)
        restore.append((owner, name, original))
        setattr(owner, name, make(original))

    def on_call_at(original: Any) -> Any:
        def call_at(loop: Any, when: float, callback: Any, *args: Any, **kwargs: Any) -> Any:
            name = getattr(callback, "__qualname__", type(callback).__name__)
            if name == "_set_result_unless_cancelled":
                name = "asyncio.sleep in " + _sleeper(sys._getframe(1))
            elif name == "_wake_ticker":
                name = "the simulator's ticker (simulator/treadsim/runtime.py)"
            timers[name] += 1
            return original(loop, when, callback, *args, **kwargs)

        return call_at

    def on_run_once(original: Any) -> Any:
        def run_once(loop: Any) -> Any:
            iterations[0] += 1
            return original(loop)

        return run_once

    def seen(tag: str) -> Callable[[Any], Any]:
        def make(original: Any) -> Any:
            def wrapper(self: Any, packet: Any, *args: Any, **kwargs: Any) -> Any:
                packets.append((tag, packet, str(getattr(self, "name", ""))))
                return original(self, packet, *args, **kwargs)

            return wrapper

        return make

    patch(asyncio.BaseEventLoop, "call_at", on_call_at)
    patch(asyncio.BaseEventLoop, "_run_once", on_run_once)
    for owner, name in ((Host, "send_hci_packet"), (Host, "on_hci_packet")):
        patch(owner, name, seen("host " + name))
    for owner, name in ((Controller, "on_hci_packet"), (Controller, "send_hci_packet")):
        patch(owner, name, seen("controller " + name))
    try:
        with tempfile.TemporaryDirectory(prefix="retrorun-bench-") as tmp:
            program = Path(tmp) / "bench-wakeups.toml"
            program.write_text(_program_toml(minutes), encoding="utf-8")
            options = RunOptions(
                program=str(program),
                speedup=speedup,
                yes=True,
                plain=True,
                voice="off",
                record=Path(tmp) / "r.jsonl",
            )
            prepared = prepare(options)

            async def timed(sink: Any) -> tuple[int, float]:
                loop = asyncio.get_running_loop()
                start = loop.time()
                code = await run_prepared(prepared, stdout=sink)
                return code, loop.time() - start

            cpu = time.process_time()
            with Path(os.devnull).open("w", encoding="utf-8") as sink:
                code, simulated = clock.run(timed(sink), speedup=speedup)
            cpu = time.process_time() - cpu
    finally:
        for owner, name, original in reversed(restore):
            setattr(owner, name, original)
    print(
        f"\n4. event-loop wake-ups of an embedded session, per simulated second"
        f" ({minutes:g}-minute program, {simulated:.0f} s with connect and settling,"
        f" at --speedup {speedup:g}, exit code {code})"
    )
    print(f"   loop iterations                                   {iterations[0] / simulated:8.1f}")
    print("   timers scheduled, by who sleeps:")
    for name, count in timers.most_common(8):
        print(f"     {count / simulated:8.2f}  {name}")

    formats: dict[str, Callable[[Any, str], str]] = {
        "host send_hci_packet": lambda p, _n: f"{color('### HOST -> CONTROLLER', 'blue')}: {p}",
        "host on_hci_packet": lambda p, _n: f"{color('### CONTROLLER -> HOST', 'green')}: {p}",
        "controller on_hci_packet": lambda p, n: (
            f"{color('<<<', 'blue')} [{n}] {color('HOST -> CONTROLLER', 'blue')}: {p}"
        ),
        "controller send_hci_packet": lambda p, n: (
            f"{color('>>>', 'green')} [{n}] {color('CONTROLLER -> HOST', 'green')}: {p}"
        ),
    }
    start = time.process_time()
    for tag, packet, name in packets:
        formats[tag](packet, name)
    spent = time.process_time() - start
    per_min, session_per_min = spent / (simulated / 60), cpu / (simulated / 60)
    print(
        f"\n5. bumble's HCI debug strings with logging off: {len(packets) / simulated:.1f} packets"
        f" per simulated second pass its host and controllers, each formatted once there"
    )
    print(
        f"   formatting them again as bumble does: {per_min:.4f} CPU s per session minute"
        f" = {per_min / session_per_min * 100:.1f} % of this session's CPU flat out"
        f" ({session_per_min:.3f} CPU s per simulated minute)"
    )


def _program_toml(minutes: float) -> str:
    """A program of 30 s walking steps, forward and backward in turn."""
    lines = ['name = "bench-wakeups"', 'description = "bench/startup.py"', 'profile = "novice"']
    for i in range(round(minutes * 2)):
        direction, speed = ("backward", 3.0) if i % 2 else ("forward", 3.5)
        kind = "work" if i % 2 else "recovery"
        lines += ["", "[[steps]]", f'kind = "{kind}"', f'direction = "{direction}"']
        lines += ['duration = "30s"', f"speed_kmh = {speed}"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--session-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--device", help=argparse.SUPPRESS)
    parser.add_argument("--hci", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from retrorun.logs import configure_logging

    configure_logging("bench")  # bumble's warnings stay off the terminal, as in retrorun
    if args.session_child:
        session_child(args.device, args.hci)
        return 0
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"retrorun start-up and footprint: python bench/startup.py\n"
        f"python {platform.python_implementation()} {platform.python_version()},"
        f" {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, load {load}"
        " (a machine shared with other work)\n"
    )
    startup()
    peak_rss()
    cpu_at_1x()
    wakeups_and_debug_strings()
    return 0


if __name__ == "__main__":
    sys.exit(main())
