"""The live page: a phone or tablet on the wall behind the treadmill shows the session.

A runner facing the rear cannot see the console or a laptop on it; a phone standing
behind the treadmill they can. ``retrorun run ... --web [HOST:]PORT`` serves one
page (``web_static/``: its HTML, CSS and a small script, shipped in the package, no
CDN) from the session's own event loop with aiohttp, so there is no second server
process and the page works offline on the local network.

Why a WebSocket and not server-sent events: the page sends too (Stop,
Pause/Resume), and one socket carries both ways with one token check, one
reconnect and one "connection lost"; a telemetry record is one small text frame.

Access. The address carries a random per-session token (``?token=``); the page
and its socket answer 403 without it (compared in constant time). The script and
style sheet are the same for every session and carry nothing of it, so they are
served to anyone. At most ``max_pages`` sockets at once (503 past that); a frame
over 1 KiB closes its socket. The default bind is 127.0.0.1; the local network is
asked for outright (``--web 0.0.0.0:8080``), and then the address shown is the
machine's own on that network.

What the page gets, one JSON object per frame (``type``): ``hello`` (on connect:
the plan, the current step, the last state, the last alert, so a page that
reconnects is whole at once), ``state`` (every telemetry record:
``SessionState.to_json_dict()``), ``event`` (every event, ``to_json_dict()``,
``step_started`` with its words as the console prints them), ``cue`` (what the
voice says, from the same cue script and at the same moments as espeak-ng: the
page speaks them with the browser's speech synthesis under ``?voice=1``) and
``ended`` (the session's report, as ``retrorun run`` prints it at the end).

Commands. The page sends ``pause``, ``resume`` or ``stop`` (a frame holding just
that word); each goes through :meth:`SessionControls.request` with source
``web``, exactly like a key or an MQTT button, and the session answers with the
``command_ack``/``command_refused`` event every sink sees. Nothing else is
obeyed, so nothing on the page can raise the speed; anything else is counted and
warned about (once per 10 s per kind), and a page sending more than
``_COMMANDS_PER_S`` commands a second has the excess ignored.

Never blocking the session: the bus hands this sink items in its own task; each
page has a bounded queue of its own (a newer state supersedes an unsent one,
safety events are never dropped) and a writer task, so a slow or stalled phone
only delays itself. Failures become one warning each through ``on_warning``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import secrets
import socket
import time
from collections import deque
from collections.abc import AsyncIterable, Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final, Literal, TextIO, get_args
from urllib.parse import quote

import segno
from aiohttp import WSMsgType, web

from retrorun.bus import EventBus, Item
from retrorun.clock import wall_seconds
from retrorun.errors import UsageError
from retrorun.events import (
    RemoteCommand,
    SessionControls,
    SessionEnded,
    SessionEvent,
    SessionStarted,
    SessionState,
    StepStarted,
)
from retrorun.guidance import format_step
from retrorun.sinks.voice import VoiceActivity, VoiceSink

__all__ = [
    "COMMANDS",
    "SOURCE",
    "WebAddress",
    "WebListener",
    "WebSink",
    "listen",
    "qr_text",
]

SOURCE: Final = "web"
COMMANDS: Final[frozenset[str]] = frozenset(get_args(RemoteCommand))
_MAX_FRAME: Final = 1024  # bytes a page may send in one frame: a command is a word
_COMMANDS_PER_S: Final = 5  # per page; a press is one, a stuck button is many
_WARNING_COOLDOWN_S: Final = 10.0
_PAGE_QUEUE: Final = 256  # items waiting for one page before the oldest state goes
_CLOSE_S: Final = 2.0  # wall seconds the pages get to hear "ended" and close
_STATIC: Final = {
    "app.js": "text/javascript",
    "style.css": "text/css",
}
_Keep = Literal["state", "event", "keep"]  # how a queued frame may be dropped
_TICK_S: Final = 2.0
_TICK: Final = '{"type":"tick"}'
_NO_STORE: Final = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True, slots=True)
class WebAddress:
    """Where ``--web`` listens: ``host`` (an IP address or a name) and ``port``
    (0: any free port, the one chosen is in the address printed)."""

    host: str
    port: int


class WebListener:
    """The bound listening socket, made before anything connects (a port in use is
    bad input, refused before the belt moves), and the address to print."""

    def __init__(self, address: WebAddress) -> None:
        family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
        try:
            infos = socket.getaddrinfo(
                address.host, address.port, family, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
            )
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            raise UsageError(f"--web {address.host}: {exc.strerror or exc}") from None
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(infos[0][4])
            sock.listen(16)
            sock.setblocking(False)  # noqa: FBT003 - the socket API's own flag
        except OSError as exc:
            sock.close()
            where = f"{address.host}:{address.port}"
            raise UsageError(
                f"--web {where}: cannot listen there ({exc.strerror or exc})"
            ) from None
        self.sock = sock
        self.token = secrets.token_urlsafe(16)
        bound_port = int(sock.getsockname()[1])
        self.address = WebAddress(address.host, bound_port)
        self.url = f"http://{_url_host(address.host)}:{bound_port}/?token={quote(self.token)}"

    def announce(self, out: TextIO) -> None:
        """``web: URL`` on a line of its own (scripts read it), then its QR code."""
        with contextlib.suppress(OSError, ValueError):
            out.write(f"web: {self.url}\n{qr_text(self.url)}")
            out.flush()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> WebListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def listen(address: WebAddress) -> WebListener:
    """Bind ``address`` now (``UsageError``, one line, when it cannot be bound)."""
    return WebListener(address)


def _url_host(host: str) -> str:
    """The host a phone can reach: for an any-address bind, this machine's own
    address on the network it would use (no packet is sent to find it)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if ip.is_unspecified:
        ip = ipaddress.ip_address(_own_address(ip.version))
    return f"[{ip}]" if ip.version == 6 else str(ip)


def _own_address(version: int) -> str:
    family, probe, fallback = (
        (socket.AF_INET6, "2001:db8::1", "::1")
        if version == 6
        else (socket.AF_INET, "192.0.2.1", "127.0.0.1")
    )
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as udp:
            udp.connect((probe, 9))  # a UDP "connect" only picks the route
            return str(udp.getsockname()[0])
    except OSError:
        return fallback


def qr_text(url: str) -> str:
    """The QR code of ``url`` in half-block characters, two modules a character cell
    high: light modules are drawn (a dark terminal's background is the dark)."""
    qr = segno.make(url, error="m", micro=False)
    rows = [[bool(v) for v in row] for row in qr.matrix]
    border = 2
    width = len(rows[0]) + 2 * border
    blank = [False] * width
    padded = [blank] * border + [[False] * border + r + [False] * border for r in rows]
    padded += [blank] * border
    if len(padded) % 2:
        padded.append(blank)
    blocks = {(True, True): " ", (False, True): "▀", (True, False): "▄", (False, False): "█"}
    lines = [
        "".join(blocks[(top[i], bottom[i])] for i in range(width))
        for top, bottom in zip(padded[::2], padded[1::2], strict=True)
    ]
    return "\n".join(lines) + "\n"


def _frame(kind: str, body: dict[str, Any]) -> str:
    return json.dumps({"type": kind, **body}, separators=(",", ":"))


def _event_body(event: SessionEvent) -> dict[str, Any]:
    body = event.to_json_dict()
    body["safety"] = event.safety
    if isinstance(event, StepStarted):
        body["words"] = format_step(event.step, event.total)
        if event.next is not None:
            body["next_words"] = format_step(event.next, event.total)
    return body


class _Page:
    """One connected page: its socket, its queue and its writer."""

    def __init__(self, ws: web.WebSocketResponse, peer: str) -> None:
        self.ws = ws
        self.peer = peer
        self.frames: deque[tuple[str, _Keep]] = deque()
        self.wake = asyncio.Event()
        self.commands: deque[float] = deque()
        self.sent = 0

    def put(self, frame: str, *, state: bool, safety: bool) -> None:
        self.frames.append((frame, "state" if state else "keep" if safety else "event"))
        if len(self.frames) > _PAGE_QUEUE:
            # The oldest state first (a newer one supersedes it), then the oldest
            # event; safety events and the hello are never dropped.
            victim = next((f for f in self.frames if f[1] == "state"), None)
            if victim is None:
                victim = next((f for f in self.frames if f[1] == "event"), None)
            if victim is not None:
                self.frames.remove(victim)
        self.wake.set()

    async def write(self) -> None:
        """Send what is queued, in order; a socket that fails to take a frame is closed."""
        try:
            while True:
                while self.frames:
                    frame, _ = self.frames.popleft()
                    await self.ws.send_str(frame)
                    self.sent += 1
                if self.ws.closed:
                    return
                self.wake.clear()
                await self.wake.wait()
        except (ConnectionError, RuntimeError):
            await self.ws.close()


class WebSink:
    """Serves the live page on ``listener`` until the session's subscription ends.

    ``summary`` gives the session's report lines once it ended (shown on the
    page); ``origin`` is the loop time at session time 0, for the cues' timing.
    """

    def __init__(
        self,
        subscription: AsyncIterable[Item],
        controls: SessionControls,
        listener: WebListener,
        *,
        summary: Callable[[], list[str]] | None = None,
        origin: float | None = None,
        on_warning: Callable[[str], None] | None = None,
        max_pages: int = 8,
    ) -> None:
        self._subscription = subscription
        self._controls = controls
        self._listener = listener
        self._summary = summary
        self._origin = origin
        self._on_warning = on_warning
        self._max_pages = max(1, max_pages)
        self._pages: set[_Page] = set()
        self._started: SessionStarted | None = None
        self._step: StepStarted | None = None
        self._state: SessionState | None = None
        self._alert: SessionEvent | None = None
        self._ended: dict[str, Any] | None = None  # the report and why it ended
        self._end_reason = ""
        self._cues = EventBus()
        self._warned_at: dict[str, float] = {}
        # Figures for tests and the benchmark.
        self.pages_served = 0
        self.frames_sent = 0
        self.commands_accepted = 0
        self.commands_ignored = 0
        self.refused = 0

    @property
    def url(self) -> str:
        return self._listener.url

    @property
    def pages(self) -> int:
        """Pages connected now."""
        return len(self._pages)

    # -- the session side -------------------------------------------------------------

    async def run(self) -> None:
        """Serve until the subscription ends; then send the report and close."""
        app = web.Application(client_max_size=_MAX_FRAME)
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._socket)
        app.router.add_get("/{name}", self._static)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        try:
            await web.SockSite(runner, self._listener.sock).start()
            cues = VoiceSink(
                self._cues.subscribe("web-cues", maxsize=512),
                mode="espeak",
                play=False,
                origin=self._origin,
                on_notice=lambda _message: None,  # the computer's voice reports its own
                on_activity=self._on_cue,
            )
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(cues.run(), name="web-cues")
                ticks = tasks.create_task(self._tick(), name="web-ticks")
                async for item in self._subscription:
                    self._accept(item)
                self._cues.close()
                ticks.cancel()
                summary = self._summary() if self._summary is not None else []
                self._ended = {"summary": summary, "reason": self._end_reason}
                self._broadcast(_frame("ended", self._ended), safety=True)
                await self._close_pages()
        finally:
            self._cues.close()
            await runner.cleanup()

    def _accept(self, item: Item) -> None:
        self._cues.publish(item)
        if isinstance(item, SessionState):
            self._state = item
            if self._pages:  # no page, no frame: a page that connects gets the hello
                self._broadcast(_frame("state", item.to_json_dict()), state=True)
            return
        if isinstance(item, SessionStarted):
            self._started = item
        elif isinstance(item, StepStarted):
            self._step = item
        elif isinstance(item, SessionEnded):
            self._end_reason = item.reason
        if item.safety:
            self._alert = item
        self._broadcast(_frame("event", _event_body(item)), safety=item.safety)

    async def _tick(self) -> None:
        """A frame every ``_TICK_S`` wall seconds, even with no telemetry (a link
        that is down): a page that hears nothing for a while says "connection lost"."""
        while True:
            await asyncio.sleep(wall_seconds(_TICK_S))
            self._broadcast(_TICK, state=True)

    def _on_cue(self, activity: VoiceActivity) -> None:
        if activity.what != "fired":
            return
        cue = activity.cue
        body = {"t": cue.t, "kind": str(cue.kind), "text": cue.text, "urgent": cue.urgent}
        self._broadcast(_frame("cue", body), safety=cue.urgent)

    def _broadcast(self, frame: str, *, state: bool = False, safety: bool = False) -> None:
        for page in self._pages:
            page.put(frame, state=state, safety=safety)
        self.frames_sent += len(self._pages)

    def _hello(self) -> str:
        body: dict[str, Any] = {
            "started": _event_body(self._started) if self._started else None,
            "step": _event_body(self._step) if self._step else None,
            "state": self._state.to_json_dict() if self._state else None,
            "alert": _event_body(self._alert) if self._alert else None,
            "ended": self._ended,
        }
        return _frame("hello", body)

    async def _close_pages(self) -> None:
        """Let every page hear the end, then close its socket (bounded in wall time)."""
        pages = list(self._pages)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_CLOSE_S):
                for page in pages:
                    while page.frames and not page.ws.closed:  # noqa: ASYNC110
                        await asyncio.sleep(0.01)
        for page in pages:
            with contextlib.suppress(Exception):
                await page.ws.close(message=b"session ended")

    # -- the page side ----------------------------------------------------------------

    def _allowed(self, request: web.Request) -> bool:
        given = request.query.get("token", "")
        return secrets.compare_digest(given.encode(), self._listener.token.encode())

    async def _index(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed(request):
            self.refused += 1
            return web.Response(status=403, text="403: this page needs its session's address\n")
        text = _read_static("index.html")
        return web.Response(text=text, content_type="text/html", headers=_NO_STORE)

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _STATIC:
            return web.Response(status=404, text="404\n")
        text = _read_static(name)
        return web.Response(text=text, content_type=_STATIC[name], headers=_NO_STORE)

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed(request):
            self.refused += 1
            return web.Response(status=403, text="403\n")
        if len(self._pages) >= self._max_pages or self._ended is not None:
            return web.Response(status=503, text="503: too many pages\n")
        ws = web.WebSocketResponse(heartbeat=10.0, max_msg_size=_MAX_FRAME)
        await ws.prepare(request)
        page = _Page(ws, request.remote or "?")
        page.put(self._hello(), state=False, safety=True)
        self._pages.add(page)
        self.pages_served += 1
        writer = asyncio.create_task(page.write(), name="web-page-writer")
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self._command(page, str(message.data))
                elif message.type is WSMsgType.ERROR:
                    self._ignore("frame", f"a bad frame from {page.peer} (socket closed)")
                    break
                else:
                    self._ignore("binary", "a frame that is not text")
        finally:
            self._pages.discard(page)
            page.wake.set()
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        return ws

    def _command(self, page: _Page, text: str) -> None:
        word = text.strip().lower()
        if word not in COMMANDS:
            shown = word[:20] + ("..." if len(word) > 20 else "")
            self._ignore("command", f"an unknown command {shown!r} (pause, resume, stop only)")
            return
        now = time.monotonic()
        while page.commands and now - page.commands[0] > 1.0:
            page.commands.popleft()
        if len(page.commands) >= _COMMANDS_PER_S and word != "stop":
            self._ignore("rate", f"commands past {_COMMANDS_PER_S} a second from one page")
            return
        page.commands.append(now)
        for name in get_args(RemoteCommand):
            if name == word:
                try:
                    self._controls.request(name, source=SOURCE)
                except Exception as exc:  # noqa: BLE001 - a command must never end the sink
                    self._warn("request", f"web: the {word} command failed: {exc}")
                    return
                self.commands_accepted += 1
                return

    def _ignore(self, key: str, message: str) -> None:
        self.commands_ignored += 1
        self._warn(f"ignored:{key}", f"web: ignored {message}", cooldown_s=_WARNING_COOLDOWN_S)

    def _warn(self, key: str, message: str, *, cooldown_s: float = 0.0) -> None:
        now = time.monotonic()
        last = self._warned_at.get(key)
        if last is not None and now - last < cooldown_s:
            return
        self._warned_at[key] = now
        if self._on_warning is None:
            return
        try:
            self._on_warning(message)
        except Exception:  # noqa: BLE001 - a broken warning hook must not end the sink
            self._on_warning = None


def _read_static(name: str) -> str:
    return resources.files("retrorun.sinks").joinpath("web_static", name).read_text("utf-8")


def static_names() -> Iterator[str]:
    """The page's files (for tests that check the package ships them)."""
    yield "index.html"
    yield from _STATIC
