"""The safety case is traced both ways: hazards to tests, tests to hazards.

``docs/safety-case.md`` logs every hazard (``HZ-NN``) with its controls and its
evidence. Tests carry ``@pytest.mark.hazard("HZ-NN", ...)``; the fault explorer
maps each of its invariants to hazards in ``INVARIANT_HAZARDS``. This test fails
when a hazard has no test, when a marker or a mapping names a hazard the log does
not hold, when an invariant the explorer judges names no hazard, when the log
names a test that does not carry the hazard's marker (or leaves out a file that
does), when a link in the log leads nowhere, or when a safety rule of
``docs/architecture.md`` maps to no hazard.

The markers are read by pytest's own collection of the whole suite, in a
subprocess (a few seconds): a run of this file alone sees every test.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "docs" / "safety-case.md"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
EXPLORER = ROOT / "tests" / "explore" / "explorer.py"
# The explorer's tests judge every invariant: they carry the hazards of all of them.
EXPLORER_TESTS = (
    "tests/explore/test_explore.py::test_fixed_budget_of_schedules_finds_nothing",
    "tests/explore/test_explore.py::test_a_schedule_that_once_failed_now_holds",
)

HAZARD_ID = re.compile(r"HZ-\d{2}")
SECTION = re.compile(r"^### (HZ-\d{2})\b", re.MULTILINE)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
TEST_NAME = re.compile(r"`(test_\w+)`")

COLLECT = textwrap.dedent(
    """
    import json, sys
    import pytest

    class Markers:
        def pytest_collection_finish(self, session):
            rows = []
            for item in session.items:
                marks = list(item.iter_markers("hazard"))
                if marks:
                    rows.append({
                        "nodeid": item.nodeid,
                        "file": item.nodeid.split("::")[0],
                        "name": getattr(item, "originalname", item.name),
                        "ids": [str(a) for m in marks for a in m.args],
                        "empty": any(not m.args for m in marks),
                    })
            with open(sys.argv[1], "w") as out:
                json.dump(rows, out)

    code = pytest.main(
        ["--collect-only", "-q", "-p", "no:cacheprovider", "tests"], plugins=[Markers()]
    )
    sys.exit(int(code))
    """
)


@dataclass(frozen=True)
class Marked:
    nodeid: str
    file: str
    name: str
    ids: tuple[str, ...]
    empty: bool


@cache
def _collected(out: Path) -> tuple[Marked, ...]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", COLLECT, str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = json.loads(out.read_text())
    return tuple(
        Marked(r["nodeid"], r["file"], r["name"], tuple(r["ids"]), r["empty"]) for r in rows
    )


@pytest.fixture(scope="module")
def marked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Marked, ...]:
    return _collected(tmp_path_factory.mktemp("hazards") / "markers.json")


def _sections(text: str) -> dict[str, str]:
    """Each hazard's section of the log, by id (from its heading to the next heading)."""
    starts = list(SECTION.finditer(text))
    sections: dict[str, str] = {}
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        body = text[match.start() : end]
        body = re.split(r"^## ", body, maxsplit=1, flags=re.MULTILINE)[0]
        assert match.group(1) not in sections, f"{match.group(1)} has two sections"
        sections[match.group(1)] = body
    return sections


def _log_rows(text: str) -> list[str]:
    """The ids of the hazard log's summary table (its rows start with an id)."""
    return re.findall(r"^\| \[?(HZ-\d{2})\]?", text, flags=re.MULTILINE)


def hazards(text: str | None = None) -> dict[str, str]:
    return _sections(CASE.read_text() if text is None else text)


def invariants() -> tuple[set[str], dict[str, tuple[str, ...]]]:
    """The invariants the explorer judges (every ``Finding`` name) and its mapping."""
    tree = ast.parse(EXPLORER.read_text())
    judged: set[str] = set()
    mapping: dict[str, tuple[str, ...]] | None = None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "Finding"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            judged.add(node.args[0].value)
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "INVARIANT_HAZARDS"
            and node.value is not None
        ):
            mapping = ast.literal_eval(node.value)
    assert mapping is not None, "tests/explore/explorer.py has no INVARIANT_HAZARDS"
    return judged, mapping


# -- the log itself ----------------------------------------------------------------


def test_the_log_lists_each_hazard_once_with_a_section() -> None:
    text = CASE.read_text()
    rows = _log_rows(text)
    sections = hazards(text)
    assert rows, "the hazard log has no rows"
    assert len(rows) == len(set(rows)), f"a hazard is listed twice: {rows}"
    assert rows == sorted(rows)
    assert set(rows) == set(sections), (
        f"rows without a section: {sorted(set(rows) - set(sections))};"
        f" sections without a row: {sorted(set(sections) - set(rows))}"
    )
    for hazard, body in sections.items():
        for field in ("Causes", "Severity", "Likelihood", "Controls", "Residual risk", "Evidence"):
            assert f"**{field}" in body, f"{hazard} has no {field}"


def test_every_link_in_the_log_leads_to_a_file() -> None:
    text = CASE.read_text()
    links = [t for t in LINK.findall(text) if "://" not in t]
    assert links
    missing = [t for t in links if not (CASE.parent / t).resolve().exists()]
    assert not missing, f"links to nothing: {missing}"


def test_every_safety_rule_of_the_architecture_maps_to_a_hazard() -> None:
    """Each rule of docs/architecture.md's "Safety rules as implemented" table is a
    row of the safety case's rule table, with at least one hazard."""
    arch = ARCHITECTURE.read_text().split("## Safety rules as implemented", 1)[1]
    arch = arch.split("\n## ", 1)[0]
    rules = re.findall(r"^\| ([^|]+?) \| [^|]+ \| [^|]+ \|$", arch, flags=re.MULTILINE)
    rules = [r for r in rules if r != "rule" and not set(r) <= {"-", " "}]
    assert len(rules) >= 10, rules
    case = CASE.read_text().split("## Rules of the architecture", 1)
    assert len(case) == 2, "the safety case has no 'Rules of the architecture' table"
    mapped = dict(
        re.findall(r"^\| ([^|]+?) \| ((?:HZ-\d{2}[, ]*)+) \|", case[1], flags=re.MULTILINE)
    )
    known = set(hazards())
    for rule in rules:
        assert rule in mapped, f"architecture rule {rule!r} maps to no hazard"
        ids = set(HAZARD_ID.findall(mapped[rule]))
        assert ids, f"architecture rule {rule!r} names no hazard"
        assert ids <= known, f"{rule!r}: {sorted(ids - known)}"


# -- both ways: hazards and tests ---------------------------------------------------


def test_every_hazard_has_a_test(marked: tuple[Marked, ...]) -> None:
    tested = {h for m in marked for h in m.ids}
    untested = sorted(set(hazards()) - tested)
    assert not untested, f"hazards with no test carrying their marker: {untested}"


def test_every_hazard_marker_names_a_hazard_of_the_log(marked: tuple[Marked, ...]) -> None:
    known = set(hazards())
    assert marked, "no test carries a hazard marker"
    empty = [m.nodeid for m in marked if m.empty]
    assert not empty, f"hazard markers naming no hazard: {empty[:5]}"
    unknown = sorted({f"{m.nodeid}: {h}" for m in marked for h in m.ids if h not in known})
    assert not unknown, f"markers naming no hazard of docs/safety-case.md: {unknown[:10]}"


def test_the_log_names_only_tests_that_carry_the_hazard(marked: tuple[Marked, ...]) -> None:
    """A test named in a hazard's evidence carries that hazard's marker, and every
    file holding such a test is linked from that hazard's section."""
    by_hazard: dict[str, set[str]] = defaultdict(set)
    files: dict[str, set[str]] = defaultdict(set)
    for m in marked:
        for h in m.ids:
            by_hazard[h].add(m.name)
            files[h].add(m.file)
    problems: list[str] = []
    for hazard, body in hazards().items():
        evidence = body.split("**Evidence", 1)[1]
        problems += [
            f"{hazard} names {name}, which has no hazard({hazard!r}) marker"
            for name in TEST_NAME.findall(evidence)
            if name not in by_hazard[hazard]
        ]
        linked = {
            (CASE.parent / t).resolve().relative_to(ROOT).as_posix()
            for t in LINK.findall(evidence)
            if "://" not in t
        }
        problems += [
            f"{hazard}: {file} holds a test marked {hazard} but is not linked"
            for file in sorted(files[hazard] - linked)
        ]
    assert not problems, "\n".join(problems)


# -- the explorer --------------------------------------------------------------------


def test_every_explorer_invariant_names_its_hazards() -> None:
    judged, mapping = invariants()
    assert judged, "no Finding found in the explorer"
    assert judged == set(mapping), (
        f"invariants with no hazard: {sorted(judged - set(mapping))};"
        f" mapped but never judged: {sorted(set(mapping) - judged)}"
    )
    sections = hazards()
    for invariant, ids in mapping.items():
        assert ids, f"{invariant} maps to no hazard"
        for h in ids:
            assert h in sections, f"{invariant} names {h}, not in docs/safety-case.md"
            assert f"`{invariant}`" in sections[h], f"{h}'s evidence does not name {invariant}"


def test_the_explorers_tests_carry_the_hazards_of_its_invariants(
    marked: tuple[Marked, ...],
) -> None:
    _judged, mapping = invariants()
    union = {h for ids in mapping.values() for h in ids}
    for nodeid in EXPLORER_TESTS:
        ids = {h for m in marked if m.nodeid.split("[")[0] == nodeid for h in m.ids}
        assert ids == union, f"{nodeid}: {sorted(ids)} != {sorted(union)}"
