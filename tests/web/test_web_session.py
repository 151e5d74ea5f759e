"""The live page on a real session: ``retrorun run --web`` on the embedded simulator
(a real process at ``--speedup 10``, real time) and Debian's chromium at phone size.

One session serves the whole module, in order: the token guards the page and its
socket; hostile clients are refused and change nothing; the page follows the belt
as the simulator's own state log says it moved; Pause and Resume go through the
session's acknowledged path; a second page with ``?voice=1`` speaks the cues; Stop
stops the belt (the state log says so) and the page shows the report.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import pytest
import segno
from playwright.sync_api import Browser, Page, expect
from web_support import RunningSession, launch, program_file

from session_waits import wait_until

pytestmark = [pytest.mark.process, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def sessions(
    tmp_path_factory: pytest.TempPathFactory, browser: Browser
) -> Iterator[tuple[RunningSession, RunningSession]]:
    """Two sessions started together once the browser is up (so pages see them from
    the start): one the tests drive to its Stop, one they kill."""
    folder = tmp_path_factory.mktemp("web-session")
    program = str(program_file(folder))
    driven = RunningSession(folder / "driven", program, speedup=10)
    killed = RunningSession(folder / "killed", program, speedup=10)
    try:
        yield driven.ready(), killed.ready()
    finally:
        driven.close()
        killed.close()


@pytest.fixture(scope="module")
def session(sessions: tuple[RunningSession, RunningSession]) -> RunningSession:
    return sessions[0]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as chromium:
        yield chromium


@pytest.fixture(scope="module", autouse=True)  # open from the start: it sees every step
def page(browser: Browser, session: RunningSession) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)
    tab = context.new_page()
    # Every headline the page shows, noted as it changes (a poll could miss a short one).
    tab.add_init_script(
        "window.headlines = [];"
        "addEventListener('DOMContentLoaded', () => {"
        "  const el = document.getElementById('direction');"
        "  new MutationObserver(() => window.headlines.push(el.textContent))"
        "    .observe(el, {childList: true, characterData: true, subtree: true});"
        "});"
    )
    tab.goto(session.url)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture(scope="module", autouse=True)
def voice_page(browser: Browser, session: RunningSession) -> Iterator[Page]:
    """A second page, with ``?voice=1``: the browser's speech engine is real but
    silent here, so the page's calls to it are noted instead."""
    context = browser.new_context(viewport=PHONE)
    tab = context.new_page()
    tab.add_init_script(
        "window.spoken = []; speechSynthesis.speak = (u) => window.spoken.push(u.text);"
    )
    tab.goto(session.url + "&voice=1")
    try:
        yield tab
    finally:
        context.close()


def _spoken(tab: Page) -> list[str]:
    return list(tab.evaluate("window.spoken"))


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_address_is_printed_with_a_qr_code_of_it(session: RunningSession) -> None:
    assert session.url.startswith("http://127.0.0.1:")
    printed = session.qr_lines()
    # Two modules a character: the top half and the bottom half; a drawn half is light.
    halves = {" ": (1, 1), "▀": (0, 1), "▄": (1, 0), "█": (0, 0)}
    rows: list[list[int]] = []
    for line in printed:
        rows.append([halves[c][0] for c in line])
        rows.append([halves[c][1] for c in line])
    expected = segno.make(session.url, error="m", micro=False)
    size = len(expected.matrix)
    border = (len(printed[0]) - size) // 2
    read = [row[border : border + size] for row in rows[border : border + size]]
    assert read == [list(r) for r in expected.matrix]
    assert expected.designator.endswith("-M")


def test_without_the_token_the_page_and_its_socket_answer_403(session: RunningSession) -> None:
    assert _status(session.url) == 200
    assert _status(session.base + "/") == 403
    assert _status(session.base + "/?token=" + "x" * len(session.token)) == 403
    assert _status(session.base + "/ws") == 403
    assert _status(session.base + "/../../etc/passwd") == 404
    assert _status(session.base + "/%2e%2e%2fweb.py") == 404


def test_a_hostile_client_is_refused_and_changes_nothing(session: RunningSession) -> None:
    async def hostile() -> list[str]:
        seen = []
        async with aiohttp.ClientSession() as client:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect(session.base + "/ws?token=wrong")
            seen.append(str(refused.value.status))
            ws = await client.ws_connect(session.url.replace("/?", "/ws?"))
            hello = json.loads((await ws.receive()).data)
            seen.append(hello["type"])
            for text in [
                "faster",
                '{"command": "speed", "value": 20}',
                "+",
                "PAUSE\x00",
                "confirm",
            ]:
                await ws.send_str(text)
            await ws.send_bytes(b"\x00stop")
            await ws.send_str("x" * 5000)  # over the 1 KiB a page may send: closed
            while (await ws.receive()).type is aiohttp.WSMsgType.TEXT:
                pass
            seen.append(str(ws.close_code))
        return seen

    # Playwright's synchronous API holds this thread's event loop: the client gets its own.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, hostile()).result() == ["403", "hello", "1009"]
    # Nothing was obeyed: no command reached the session, no target moved.
    assert not session.events("command_ack")
    assert not session.events("command_refused")
    assert not session.events("speed_adjusted")
    assert session.proc.poll() is None
    warnings = [e["message"] for e in session.events("sink_warning") if "web:" in e["message"]]
    assert warnings
    assert all("ignored" in w for w in warnings)


def test_a_killed_session_shows_connection_lost(
    browser: Browser, sessions: tuple[RunningSession, RunningSession]
) -> None:
    killed = sessions[1]
    context = browser.new_context(viewport=PHONE)
    try:
        tab = context.new_page()
        tab.goto(killed.url)
        expect(tab.locator("#program")).to_have_text("Long back")
        expect(tab.locator("#lost")).to_be_hidden()
        killed.kill()  # SIGKILL: no goodbye, the socket just goes
        expect(tab.locator("#lost")).to_be_visible(timeout=5000)
        expect(tab.locator("#lost")).to_contain_text("CONNECTION LOST")
        expect(tab.locator("#summary")).to_be_hidden()
    finally:
        context.close()


def _belt_near(session: RunningSession, shown: float) -> bool:
    recent = [s["belt_kmh"] for s in session.belt_states()[-40:]]
    return any(abs(speed - shown) <= 0.06 for speed in recent)


def test_the_page_follows_the_belt_forward_then_turning_then_backward(
    session: RunningSession, page: Page, voice_page: Page
) -> None:
    expect(page.locator("#program")).to_have_text("Long back")

    def backward_at_speed() -> bool:
        direction = page.locator("#direction").inner_text()
        return direction == "BACKWARD" and float(page.locator("#speed").inner_text()) >= 2.4

    wait_until(backward_at_speed, timeout=40, what="BACKWARD at speed on the page")
    headlines = [w for w in page.evaluate("window.headlines") if w]
    shown = [w for i, w in enumerate(headlines) if i == 0 or w != headlines[i - 1]]
    # FORWARD lasts 1.5 s of wall time: a page that loaded late (a busy machine) missed it.
    assert shown[-2:] == ["TURN AROUND", "BACKWARD"], shown
    assert set(shown) <= {"WAITING", "GET READY", "FORWARD", "TURN AROUND", "BACKWARD"}, shown
    expect(page.locator("#headline")).to_have_class("backward")
    # What the page shows is what the simulated belt did (its own log), not a plan.
    shown = float(page.locator("#speed").inner_text())
    assert _belt_near(session, shown), (shown, session.belt_states()[-5:])
    expect(page.locator("#ceiling")).to_have_text("5.0")
    expect(page.locator("#target")).to_have_text("2.5")
    expect(page.locator("#step-words")).to_contain_text("BACKWARD 2.5 km/h")
    assert page.locator("#bar-steps span.backward").count() == 1
    # The voice page said the step's own cue as espeak-ng would (when the step began).
    assert "Walk backward, small steps." in _spoken(voice_page)


def test_pause_and_resume_from_the_page_are_acknowledged(
    session: RunningSession, page: Page, voice_page: Page
) -> None:
    page.locator("#pause").click()
    expect(page.locator("#direction")).to_have_text("PAUSED")
    expect(page.locator("#pause")).to_have_text("Resume")
    expect(page.locator("#ack")).to_have_text("pause accepted from web")
    wait_until(lambda: float(page.locator("#speed").inner_text()) == 0, timeout=20, what="rest")
    page.locator("#pause").click()
    expect(page.locator("#ack")).to_have_text("resume accepted from web")
    expect(page.locator("#direction")).to_have_text("BACKWARD", timeout=20_000)
    acks = [(e["command"], e["source"]) for e in session.events("command_ack")]
    assert acks == [("pause", "web"), ("resume", "web")]
    # Every page hears it: the other one spoke it, from the same cue texts as espeak-ng.
    expect(voice_page.locator("#caption")).not_to_have_text("")
    said = _spoken(voice_page)
    assert said.index("Paused.") < said.index("Resuming.")


def test_stop_on_the_page_stops_the_belt_and_shows_the_report(
    session: RunningSession, page: Page
) -> None:
    expect(page.locator("#direction")).to_have_text("BACKWARD", timeout=20_000)
    page.locator("#stop").click()
    assert session.wait(timeout=30) == 1  # ended early, by the runner
    [end] = [r for r in session.records() if r.get("type") == "end"]
    assert end["reason"] == "user_stop"
    assert end["belt_stopped"] is True
    stops = [e for e in session.events("command_ack") if e["command"] == "stop"]
    assert [e["source"] for e in stops] == ["web"]
    # The simulator's own log: the belt came to rest (at most the 0.1 km/h every display
    # resolves, the session's own "at rest": its last tick may still show that much).
    assert session.belt_states()[-1]["belt_kmh"] <= 0.1
    expect(page.locator("#summary")).to_be_visible()
    expect(page.locator("#summary-title")).to_have_text("Session over")
    expect(page.locator("#summary-text")).to_contain_text("stopped by the runner")
    expect(page.locator("#lost")).to_be_hidden()
