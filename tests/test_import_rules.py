"""Where things live: the import rules of docs/architecture.md, checked on the source.

Every ``import`` and ``from ... import`` in the two packages is read with ``ast``
(function-level and ``TYPE_CHECKING`` imports included) and held to the rules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"retrorun": ROOT / "src" / "retrorun", "treadsim": ROOT / "simulator" / "treadsim"}


def _module_name(package: str, path: Path) -> str:
    parts = list(path.relative_to(PACKAGES[package]).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def modules() -> Iterator[tuple[str, Path]]:
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            yield _module_name(package, path), path


def imports(module: str, path: Path) -> set[str]:
    """Every module ``module`` imports (``from a import b`` counts ``a`` and ``a.b``)."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


ALL = list(modules())


def ours(name: str) -> bool:
    return name.split(".", maxsplit=1)[0] in PACKAGES


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize(("module", "path"), [m for m in ALL if within(m[0], "retrorun.ftms")])
def test_the_codec_imports_nothing_of_retrorun_but_its_errors(module: str, path: Path) -> None:
    bad = {
        name
        for name in imports(module, path)
        if ours(name) and not within(name, "retrorun.ftms") and not within(name, "retrorun.errors")
    }
    assert not bad, f"{module} imports {sorted(bad)}"


@pytest.mark.parametrize(
    ("module", "path"),
    [
        m
        for m in ALL
        if within(m[0], "retrorun.programs")
        or m[0] in {"retrorun.events", "retrorun.guidance", "retrorun.safety", "retrorun.limits"}
    ],
)
def test_the_core_imports_no_sink(module: str, path: Path) -> None:
    bad = {name for name in imports(module, path) if within(name, "retrorun.sinks")}
    assert not bad, f"{module} imports {sorted(bad)}"


@pytest.mark.parametrize(("module", "path"), [m for m in ALL if within(m[0], "retrorun.safety")])
def test_the_governor_does_no_io(module: str, path: Path) -> None:
    forbidden = {"asyncio", "bleak", "bumble", "aiomqtt", "socket", "retrorun.treadmill"}
    bad = {
        name
        for name in imports(module, path)
        if name.split(".")[0] in forbidden or name in forbidden
    }
    assert not bad, f"{module} imports {sorted(bad)}"


def _private_package(name: str) -> str | None:
    """The package whose private module ``name`` is (``retrorun.ble._bumble`` ->
    ``retrorun.ble``), or None for a public name."""
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


@pytest.mark.parametrize(("module", "path"), ALL)
def test_nothing_imports_a_private_module_of_another_package(module: str, path: Path) -> None:
    own = module if path.name == "__init__.py" else module.rpartition(".")[0]
    bad = set()
    for name in imports(module, path):
        owner = _private_package(name)
        if ours(name) and owner is not None and not within(own, owner):
            bad.add(name)
    assert not bad, f"{module} imports {sorted(bad)}"


@pytest.mark.parametrize(
    ("module", "path"),
    [m for m in ALL if within(m[0], "retrorun.report") or m[0] == "retrorun.record"],
)
def test_the_report_reads_records_and_reaches_no_treadmill(module: str, path: Path) -> None:
    """Reports and history read files: no session, link, sink or command (and the
    record, which the report reads, never imports the report back)."""
    forbidden = [
        "retrorun.sinks",
        "retrorun.session",
        "retrorun.treadmill",
        "retrorun.ble",
        "retrorun.app",
        "retrorun.cli",
        "asyncio",
        "bleak",
        "bumble",
        "aiomqtt",
    ]
    if module == "retrorun.record":
        forbidden.append("retrorun.report")
    bad = {name for name in imports(module, path) if any(within(name, f) for f in forbidden)}
    assert not bad, f"{module} imports {sorted(bad)}"


@pytest.mark.parametrize(("module", "path"), [m for m in ALL if within(m[0], "retrorun.export")])
def test_the_export_reads_only_the_record(module: str, path: Path) -> None:
    """Exports are functions over a record: no session, link, belt, sink or loop."""
    forbidden = {
        "retrorun.app",
        "retrorun.ble",
        "retrorun.cli",
        "retrorun.safety",
        "retrorun.session",
        "retrorun.sinks",
        "retrorun.treadmill",
        "treadsim",
        "asyncio",
        "bleak",
        "bumble",
        "aiomqtt",
    }
    bad = {name for name in imports(module, path) if any(within(name, f) for f in forbidden)}
    assert not bad, f"{module} imports {sorted(bad)}"


@pytest.mark.parametrize(("module", "path"), [m for m in ALL if within(m[0], "retrorun.watch")])
def test_the_watcher_reaches_no_treadmill(module: str, path: Path) -> None:
    """``retrorun watch`` reads MQTT and presses command topics: no session, link,
    belt, governor or simulator, so nothing it does can reach a speed command."""
    forbidden = {
        "retrorun.app",
        "retrorun.ble",
        "retrorun.safety",
        "retrorun.session",
        "retrorun.treadmill",
        "treadsim",
        "bleak",
        "bumble",
    }
    bad = {name for name in imports(module, path) if any(within(name, f) for f in forbidden)}
    assert not bad, f"{module} imports {sorted(bad)}"
