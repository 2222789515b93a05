"""Load test: N concurrent sessions drawing, uploading or playing, and what the server pays.

    python -m tests.load [--scenario doodle|fashion|flowers|play] [--levels 1,4,8,16,32,64]
                         [--seconds 30] [--pause 1,3] [--url http://HOST:PORT --server-pid PID]
                         [--browsers] [--cpus 0]

Without `--url` it starts the app itself on 127.0.0.1 (a free port; `--cpus` pins it with
`taskset`) and lets a first session open the home page and the scenario's page, so that model
loading is not measured. With `--url` it drives a server already running (e.g. nginx in front of
replicas); give its process ids with `--server-pid` (once per process) for the CPU and memory
columns. Only 127.0.0.1 / localhost is ever targeted.

Each session is a protocol-level client: it speaks Streamlit's websocket protocol with the
protobuf messages the `streamlit` package ships (`BackMsg` up, `ForwardMsg` down), as a browser
does. A stroke is the rerun request the canvas makes on pointer-up: the canvas's widget state
(found by its key in the page's deltas) with the whole drawing so far, each stroke different, and
the fragment id of the canvas's fragment. An upload is what the browser's file uploader does: ask
for an upload URL over the websocket, PUT the file over HTTP (with the XSRF cookie), then rerun
with the uploader's new state. Play starts a game, keeps the round's one-second timer fragment
ticking (the browser sends those reruns itself) and draws on each round's canvas.

One measurement per action: from sending the rerun request to the new guess arriving, where the
new guess is a heading in the canvas's fragment (or the page, for uploads) of a run that started
after the request: never text left from an earlier run. A stroke whose run ends without a guess is
LOST; an action with no guess within `--timeout` is a TIMEOUT; a closed socket, an exception on the
page or an HTTP error is an ERROR. Per level the table shows p50/p95/max, actions per second,
errors, timeouts, lost, the server's CPU per action (all its processes, from /proc), the client's
CPU per action (this process and its children) and the server's RSS at the end of the level.

`--browsers` drives real Chromium pages with Playwright instead (doodle only, N = 1-4 is what
two cores allow), the server pinned to `--cpus` (default core 0) and the browsers on the other
cores: the same table, to check that the protocol client makes the server do the same work per
stroke as a browser, and the figure "1 user in a real browser, p95".
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileURLs, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from vision.processes import cpu_seconds
from vision.strokes import hand_stroke

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "samples" / "photos"
SIDE = 320  # the canvas's logical side (ui.widgets.CANVAS_SIDE)
PEN = 12  # the medium pen (ui.widgets.PEN_WIDTH)
# A guess as the pages write it: "cat - 97.3%", the Doodle page's "I'm not sure yet", the game's
# phrases (vision.game.guess_phrase: "I see ...", "Is it ...", "Oh, I know, it's ...").
GUESS = re.compile(r" - \d+(\.\d)?%$|^I'm not sure yet$|^I see\.\.\. |^Oh, I know, it's "
                   r"|^I'm not sure what that is")
PAGES = {"doodle": "doodle", "play": "play", "fashion": "fashion", "flowers": "flowers"}
CANVAS_KEYS = {"doodle": "doodle_pad", "play": "play_pad_"}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
IDLE_SECONDS = 3  # the server's CPU at rest is measured this long before each level


# ---------------------------------------------------------------- what the server pays
def rss_bytes(pids: list[int]) -> int:
    """Resident memory of these processes (not their descendants: the app's own memory)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def wait_until_quiet(pids: list[int], limit: float = 180, share: float = 0.15) -> float:
    """Wait (at most `limit` s) until the server uses under `share` of one core over 2 s: the
    app preloads every model in the background after its first page, which is not the load."""
    start = time.perf_counter()
    before = cpu_seconds(pids)
    while time.perf_counter() - start < limit:
        time.sleep(2)
        now = cpu_seconds(pids)
        if now - before < 2 * share:
            break
        before = now
    return time.perf_counter() - start


# ---------------------------------------------------------------- what a user draws
def stroke_points(rng: random.Random) -> list[list[float]]:
    """One stroke as a hand draws it (vision.strokes.hand_stroke) on the canvas."""
    return hand_stroke(rng, SIDE)


class Drawing:
    """The drawing of one session: strokes added one by one (a fresh drawing after `limit`)."""

    def __init__(self, seed: int, limit: int = 20):
        self.rng, self.limit = random.Random(seed), limit
        self.strokes: list[list[list[float]]] = []

    def add_stroke(self) -> None:
        if len(self.strokes) >= self.limit:
            self.strokes = []
        self.strokes.append(stroke_points(self.rng))

    def strokes_value(self) -> dict:
        """The new canvas's state (ui/canvas.py): the whole drawing as strokes."""
        return {"side": SIDE, "strokes": [{"width": PEN, "erase": False, "points": points}
                                          for points in self.strokes]}

    def drawable_value(self) -> dict:
        """streamlit-drawable-canvas's state: Fabric.js's JSON of the paths and the canvas as a
        PNG data URL (what its frontend's toDataURL sends on every stroke)."""
        pixels = np.full((SIDE, SIDE, 4), 255, np.uint8)
        objects = []
        for points in self.strokes:
            line = np.round(np.asarray(points) * 16).astype(np.int32)  # 4 bits of sub-pixel
            cv2.polylines(pixels, [line], False, (0, 0, 0, 255), PEN, cv2.LINE_AA, shift=4)
            path = [["M", *points[0]]] + [["Q", *a, *b] for a, b in zip(points, points[1:])]
            objects.append({"type": "Path", "version": "6.0.0", "originX": "left",
                            "originY": "top", "fill": None, "stroke": "#000000",
                            "strokeWidth": PEN, "strokeLineCap": "round",
                            "strokeLineJoin": "round", "path": path})
        png = cv2.imencode(".png", pixels)[1].tobytes()
        data = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        return {"drawing": {"raw": {"version": "6.0.0", "objects": objects,
                                    "background": "#FFFFFF"}, "data": data}}


def canvas_state(component_name: str, drawing: Drawing) -> str:
    """The JSON state a canvas component sends, in the format of the component on the page."""
    if "drawable" in component_name:
        return json.dumps(drawing.drawable_value())
    return json.dumps({"strokes": drawing.strokes_value()})


# ---------------------------------------------------------------- the protocol client
@dataclass
class Element:
    kind: str
    fragment_id: str
    proto: object
    received: float


@dataclass
class Run:
    """What one script run sent, from its first message to script_finished."""
    elements: list[Element] = field(default_factory=list)
    finished: float | None = None
    status: int | None = None

    @property
    def full(self) -> bool:
        """A run of the whole page (not of one fragment): it writes elements outside fragments."""
        return any(e.fragment_id == "" for e in self.elements)

    def widget(self, kind: str, key_part: str) -> Element | None:
        """The latest element of this kind whose widget id contains the key (ids end in -key)."""
        for element in reversed(self.elements):
            if element.kind == kind and key_part in getattr(element.proto, "id", ""):
                return element
        return None

    def headings(self, fragment_id: str | None = None) -> list[Element]:
        return [e for e in self.elements if e.kind == "heading"
                and (fragment_id is None or e.fragment_id == fragment_id)]

    def guess(self, fragment_id: str | None = None) -> Element | None:
        return next((e for e in self.headings(fragment_id) if GUESS.search(e.proto.body)), None)

    def error(self) -> str | None:
        for e in self.elements:
            if e.kind == "exception" or (e.kind == "alert" and e.proto.format == 1):  # ERROR
                return getattr(e.proto, "body", None) or getattr(e.proto, "message", "exception")
        return None


class ActionError(Exception):
    """The server closed the socket, the page showed an error, an HTTP call failed."""


class Session:
    """One browser tab's worth of protocol: a websocket to /_stcore/stream, the widget states
    the tab would hold, and the runs the server sends back."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        parsed = urllib.parse.urlparse(self.url)
        if parsed.hostname not in LOCAL_HOSTS:
            raise SystemExit(f"the load test targets only this machine, not {parsed.hostname}")
        self.ws_url = ("wss" if parsed.scheme == "https" else "ws") + "://" + parsed.netloc + \
            parsed.path + "/_stcore/stream"
        self.ws = None
        self.session_id = ""
        self.page = ""
        self.page_hash = ""
        self.states: dict[str, WidgetState] = {}
        self.runs: list[Run] = []
        self.changed = asyncio.Event()
        self.file_urls: dict[str, FileURLs] = {}
        self.auto_reruns: dict[str, asyncio.Task] = {}
        self.reader: asyncio.Task | None = None
        self.fetches: set[asyncio.Task] = set()
        self.media_errors: list[str] = []
        self.closed: str | None = None
        self.cookie = ""
        self.xsrf = ""

    async def open(self, page: str, timeout: float) -> Run:
        """Connect and run the page, as a browser opening its URL does."""
        self.cookie, self.xsrf = await asyncio.to_thread(self._cookies)
        self.ws = await websockets.connect(
            self.ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=timeout,
            additional_headers={"Cookie": self.cookie} if self.cookie else None)
        self.reader = asyncio.create_task(self._read())
        self.page = page
        return await self.rerun(timeout=timeout)

    def _cookies(self) -> tuple[str, str]:
        """The cookies of the health check the browser makes before connecting, sent back with
        every request after it as a browser does: Streamlit's XSRF cookie (uploads echo it in a
        header) and, behind nginx, the route cookie that keeps a session on one replica.
        Returns the Cookie header and the XSRF token."""
        cookies = {}
        with urllib.request.urlopen(self.url + "/_stcore/health", timeout=30) as response:
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                cookies[name.strip()] = rest.split(";", 1)[0]
        return "; ".join(f"{k}={v}" for k, v in cookies.items()), cookies.get("_streamlit_xsrf", "")

    async def close(self) -> None:
        for task in [*self.auto_reruns.values(), *self.fetches]:
            task.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = ForwardMsg()
                message.ParseFromString(raw)
                self._handle(message, time.perf_counter())
        except websockets.ConnectionClosed as err:
            self.closed = f"websocket closed: {err}"
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a message this client cannot read is an error of the run
            self.closed = f"client error: {err!r}"
        self.closed = self.closed or "websocket closed"
        self.changed.set()

    def _handle(self, message: ForwardMsg, now: float) -> None:
        kind = message.WhichOneof("type")
        if kind == "new_session":
            self.session_id = message.new_session.initialize.session_id or self.session_id
            for task in self.auto_reruns.values():  # a full run: its fragments say again
                task.cancel()                       # whether they still tick
            self.auto_reruns.clear()
        elif kind == "navigation":
            # sent back with every rerun, as the browser does: a rerun the script asks for
            # itself (st.rerun in a fragment) runs the page of this hash, the home page without
            self.page_hash = message.navigation.page_script_hash
        elif kind == "session_status_changed" and message.session_status_changed.script_is_running:
            self.runs.append(Run())
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            element = message.delta.new_element
            element_kind = element.WhichOneof("type")
            if not self.runs:
                self.runs.append(Run())
            self.runs[-1].elements.append(Element(element_kind, message.delta.fragment_id,
                                                  getattr(element, element_kind), now))
            if element_kind == "imgs":
                self._fetch_images(self.runs[-1].elements[-1])
        elif kind == "script_finished":
            if self.runs:
                self.runs[-1].finished, self.runs[-1].status = now, message.script_finished
        elif kind == "file_urls_response":
            for urls in message.file_urls_response.file_urls:
                self.file_urls[message.file_urls_response.response_id] = urls
        elif kind == "auto_rerun":
            fragment = message.auto_rerun.fragment_id
            if fragment not in self.auto_reruns:
                self.auto_reruns[fragment] = asyncio.create_task(
                    self._auto_rerun(fragment, message.auto_rerun.interval))
        elif kind == "stop_auto_rerun":
            for task in self.auto_reruns.values():
                task.cancel()
            self.auto_reruns.clear()
        self.changed.set()

    def screen_start(self) -> int:
        """The index of the latest finished full run (-1 before any)."""
        return next((i for i in range(len(self.runs) - 1, -1, -1)
                     if self.runs[i].full and self.runs[i].finished is not None), -1)

    def screen(self) -> list[Element]:
        """What the tab shows: the latest finished full run and the fragment runs after it."""
        start = self.screen_start()
        return [] if start < 0 else [e for r in self.runs[start:] for e in r.elements]

    def _fetch_images(self, element: Element) -> None:
        """Fetch a picture element's images as the browser does, as soon as the element arrives
        (st.image sends a /media URL, not the bytes): serving them is part of the server's work
        per action. Not at the run's end: a run cut short by the next one has handed its files
        to that run by then, which a browser, fetching at once, does not see."""
        for image in element.proto.imgs:
            if image.url.startswith("/"):
                task = asyncio.create_task(self._get(image.url))
                self.fetches.add(task)
                task.add_done_callback(self.fetches.discard)

    async def _get(self, path: str) -> None:
        parsed = urllib.parse.urlparse(self.url)
        try:
            reader, writer = await asyncio.open_connection(parsed.hostname, parsed.port or 80)
            cookie = f"Cookie: {self.cookie}\r\n" if self.cookie else ""
            writer.write(f"GET {parsed.path}{path} HTTP/1.1\r\nHost: {parsed.netloc}\r\n"
                         f"{cookie}Connection: close\r\n\r\n".encode())
            await writer.drain()
            status = await reader.readline()
            await reader.read()
            writer.close()
            if b" 200 " not in status:
                self.media_errors.append(f"{path}: {status.decode(errors='replace').strip()}")
        except OSError as err:
            self.media_errors.append(f"{path}: {err}")

    async def _auto_rerun(self, fragment_id: str, interval: float) -> None:
        """A fragment with run_every: the browser asks for its rerun every `interval` s."""
        while True:
            await asyncio.sleep(interval)
            await self.send_rerun(fragment_id, auto=True)

    async def send_rerun(self, fragment_id: str = "", auto: bool = False) -> None:
        message = BackMsg()
        state = message.rerun_script
        state.page_name, state.query_string = self.page, ""
        state.page_script_hash = self.page_hash
        state.fragment_id, state.is_auto_rerun = fragment_id, auto
        state.widget_states.widgets.extend(self.states.values())
        await self.ws.send(message.SerializeToString())
        for widget_id in [i for i, s in self.states.items() if s.WhichOneof("value") in
                          ("trigger_value", "json_trigger_value")]:
            del self.states[widget_id]  # a button press is sent once

    async def wait(self, done, timeout: float):
        """Wait until `done()` returns something (checked after every message)."""
        deadline = time.perf_counter() + timeout
        while True:
            result = done()
            if result:
                return result
            if self.closed:
                raise ActionError(self.closed)
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def rerun(self, fragment_id: str = "", timeout: float = 30) -> Run:
        """Rerun (the page or one fragment) and wait for that run's end."""
        first = len(self.runs)
        await self.send_rerun(fragment_id)
        done = await self.wait(lambda: next((r for r in self.runs[first:] if r.finished), None),
                               timeout)
        if done is None:
            raise ActionError("no script_finished")
        return done

    async def upload(self, name: str, data: bytes, timeout: float) -> UploadedFileInfo:
        """The browser's upload: ask for URLs over the websocket, PUT the file over HTTP."""
        request_id = uuid.uuid4().hex
        message = BackMsg()
        message.file_urls_request.request_id = request_id
        message.file_urls_request.file_names.append(name)
        message.file_urls_request.session_id = self.session_id
        await self.ws.send(message.SerializeToString())
        urls = await self.wait(lambda: self.file_urls.pop(request_id, None), timeout)
        if urls is None:
            raise ActionError("no file_urls_response")
        await asyncio.to_thread(self._put, urls.upload_url, name, data)
        return UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id, file_urls=urls)

    def _put(self, upload_url: str, name: str, data: bytes) -> None:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{name}\"\r\nContent-Type: image/jpeg\r\n\r\n").encode() + data + \
            f"\r\n--{boundary}--\r\n".encode()
        target = upload_url if upload_url.startswith("http") else self.url + upload_url
        request = urllib.request.Request(target, data=body, method="PUT", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "X-Xsrftoken": self.xsrf, "Cookie": self.cookie})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
        except OSError as err:
            raise ActionError(f"upload failed: {err}") from err


# ---------------------------------------------------------------- the scenarios
@dataclass
class Outcome:
    seconds: float | None
    result: str  # "ok", "lost", "timeout", "error"
    detail: str = ""


async def stroke(session: Session, drawing: Drawing, canvas: Element, timeout: float) -> Outcome:
    """One stroke on `canvas`: its new state, the fragment rerun, the time to the new guess."""
    drawing.add_stroke()
    widget_id = canvas.proto.id
    session.states[widget_id] = WidgetState(
        id=widget_id, json_value=canvas_state(canvas.proto.component_name, drawing))
    first = len(session.runs)
    start = time.perf_counter()
    await session.send_rerun(canvas.fragment_id)

    def answered():
        for run in session.runs[first:]:
            if run.full and run.finished is not None and not any(
                    e.kind == "bidi_component" and e.proto.id == widget_id for e in run.elements):
                return ("ended", run)  # the page moved on (the game's round ended): no canvas
            if not any(e.fragment_id == canvas.fragment_id for e in run.elements):
                continue  # another fragment's run (the game's timer), or a run just begun
            guess = run.guess(canvas.fragment_id)
            if guess is not None:
                return ("ok", guess.received)
            if run.error():
                return ("error", run.error())
            if run.finished is not None and run.status != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return ("lost", run)
        return None

    found = await session.wait(answered, timeout)
    if found is None:
        return Outcome(None, "timeout")
    result, detail = found
    if result == "ok":
        return Outcome(detail - start, "ok")
    if result == "ended":  # drawn as the round ended: the user sees the verdict, not a guess
        return Outcome(None, "ended")
    if result == "lost":  # no guess in that run: say what the slot showed instead
        shown = [h.proto.body for h in detail.headings(canvas.fragment_id)]
        return Outcome(None, "lost", "; ".join(shown))
    return Outcome(None, "error", str(detail))


async def doodle(session: Session, run: Run, seed: int, until: float, pause: tuple[float, float],
                 timeout: float, record) -> None:
    canvas = run.widget("bidi_component", CANVAS_KEYS["doodle"])
    if canvas is None:
        raise ActionError("no canvas on the Doodle page")
    drawing, rng = Drawing(seed), random.Random(seed)
    while time.perf_counter() < until:
        record(await stroke(session, drawing, canvas, timeout))
        await session.wait(lambda: session.runs and session.runs[-1].finished, timeout)
        await asyncio.sleep(rng.uniform(*pause))


def photo_bytes(rng: random.Random, dataset: str) -> tuple[str, bytes]:
    """A shipped photo, re-encoded with a little noise so every upload is a new file (the page
    caches decoded uploads by their bytes)."""
    names = ["flower.jpg"] if dataset == "flowers" else ["chelsea.jpg", "coffee.jpg", "rocket.jpg",
                                                         "china.jpg"]
    name = rng.choice(names)
    pixels = cv2.imread(str(PHOTOS / name))
    pixels = cv2.resize(pixels, (640, int(640 * pixels.shape[0] / pixels.shape[1])))
    pixels[rng.randrange(pixels.shape[0]), :] = rng.randrange(256)  # one line of another shade
    return f"{rng.randrange(10**6)}-{name}", cv2.imencode(".jpg", pixels)[1].tobytes()


async def uploads(session: Session, run: Run, seed: int, until: float,
                  pause: tuple[float, float], timeout: float, record, dataset: str) -> None:
    uploader = run.widget("file_uploader", f"{dataset}_upload")
    if uploader is None:
        raise ActionError(f"no file uploader on the {dataset} page")
    widget_id, rng = uploader.proto.id, random.Random(seed)
    while time.perf_counter() < until:
        name, data = await asyncio.to_thread(photo_bytes, rng, dataset)
        start = time.perf_counter()
        if widget_id in session.states:  # replacing a file: the browser first reruns without it
            session.states[widget_id] = WidgetState(id=widget_id)
            session.states[widget_id].file_uploader_state_value.SetInParent()
            # ... and that run must have started before asking for upload URLs: Streamlit
            # empties its outgoing queue when a run starts (ForwardMsgQueue.clear keeps only
            # lifecycle messages), so a file_urls_response queued just then is never sent.
            await session.rerun(timeout=timeout)
        info = await session.upload(name, data, timeout)
        state = WidgetState(id=widget_id)
        state.file_uploader_state_value.uploaded_file_info.append(info)
        session.states[widget_id] = state
        first = len(session.runs)
        await session.send_rerun()

        def answered():
            for done in session.runs[first:]:
                if done.guess() is not None:
                    return ("ok", done.guess().received)
                if done.error():
                    return ("error", done.error())
                if done.finished is not None and done.status != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    return ("lost", "")
            return None

        found = await session.wait(answered, timeout)
        if found is None:
            record(Outcome(None, "timeout"))
        elif found[0] == "ok":
            record(Outcome(found[1] - start, "ok"))
        else:
            record(Outcome(None, found[0], str(found[1])))
        await session.wait(lambda: session.runs[-1].finished, timeout)
        await asyncio.sleep(rng.uniform(*pause))


async def play(session: Session, run: Run, seed: int, until: float, pause: tuple[float, float],
               timeout: float, record) -> None:
    """Start a game and draw on each round's canvas (the round's timer fragment ticks by itself,
    see Session._auto_rerun); between rounds press Next, at the end Play again."""
    rng = random.Random(seed)
    drawings: dict[str, Drawing] = {}
    while time.perf_counter() < until:
        shown, screen = session.screen_start(), session.screen()
        canvas = next((e for e in reversed(screen) if e.kind == "bidi_component"
                       and CANVAS_KEYS["play"] in e.proto.id), None)
        button = next((e for e in reversed(screen) if e.kind == "button" and any(
            key in e.proto.id for key in ("play_start", "play_next", "play_again"))), None)
        if button is not None:
            session.states[button.proto.id] = WidgetState(id=button.proto.id, trigger_value=True)
            await session.send_rerun()
            if not await session.wait(lambda: session.screen_start() > shown, timeout):
                raise ActionError(f"no new screen after pressing {button.proto.label!r}")
            await asyncio.sleep(rng.uniform(*pause))
        elif canvas is not None:
            drawing = drawings.setdefault(canvas.proto.id, Drawing(rng.randrange(10**9)))
            record(await stroke(session, drawing, canvas, timeout))
            await asyncio.sleep(rng.uniform(*pause))
        else:  # between screens (a run still going): look again
            await session.wait(lambda: session.screen_start() > shown, 1.0)


SCENARIOS = {"doodle": doodle, "play": play,
             "fashion": lambda *a: uploads(*a, dataset="fashion"),
             "flowers": lambda *a: uploads(*a, dataset="flowers")}


# ---------------------------------------------------------------- one level
async def server_at_rest(pids: list[int]) -> float:
    """The server's CPU seconds per second with the level's sessions open and idle (timers,
    heartbeats, other sessions' fragments): taken off the level's CPU, it leaves the actions'."""
    if not pids:
        return 0.0
    await asyncio.to_thread(wait_until_quiet, pids, 30)  # the sessions' first runs are over
    before, start = cpu_seconds(pids), time.perf_counter()
    await asyncio.sleep(IDLE_SECONDS)
    return (cpu_seconds(pids) - before) / (time.perf_counter() - start)


@dataclass
class Level:
    sessions: int
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    server_cpu: float | None = None
    client_cpu: float = 0.0
    rss: int | None = None
    idle_rate: float = 0.0  # the server's CPU seconds per second at rest, before the level
    details: list[str] = field(default_factory=list)

    def row(self) -> str:
        times = sorted(o.seconds * 1000 for o in self.outcomes if o.result == "ok")
        count = {r: sum(o.result == r for o in self.outcomes) for r in
                 ("ok", "error", "timeout", "lost", "ended")}
        actions = max(len(self.outcomes), 1)

        def pct(q):
            return f"{times[min(len(times) - 1, int(q * len(times)))]:.0f}" if times else "-"

        server = "n/a" if self.server_cpu is None else f"{self.server_cpu / actions * 1000:.0f}"
        rss = "n/a" if self.rss is None else f"{self.rss / 2**20:.0f}"
        rate = len(self.outcomes) / self.seconds
        return (f"| {self.sessions:>3} | {len(self.outcomes):>5} | {rate:5.1f} "
                f"| {pct(0.5):>6} | {pct(0.95):>6} | {(f'{times[-1]:.0f}' if times else '-'):>6} "
                f"| {count['error']:>3} | {count['timeout']:>3} | {count['lost']:>4} "
                f"| {server:>6} | {self.client_cpu / actions * 1000:>6.0f} | {rss:>6} |")


HEADER = ("| N   | acts  | /s    | p50 ms | p95 ms | max ms | err | t/o | lost "
          "| srv ms | cli ms | RSS MB |\n"
          "|----:|------:|------:|-------:|-------:|-------:|----:|----:|-----:"
          "|-------:|-------:|-------:|")


async def run_level(url: str, scenario: str, sessions: int, seconds: float,
                    pause: tuple[float, float], timeout: float, server_pids: list[int],
                    seed: int = 0) -> Level:
    """`sessions` protocol clients open the scenario's page (not measured), then act for
    `seconds` (what is measured), each starting at a random moment within the first pause."""
    level = Level(sessions)
    clients = [Session(url) for _ in range(sessions)]
    opened = await asyncio.gather(*(c.open(PAGES[scenario], timeout=max(timeout, 60))
                                    for c in clients), return_exceptions=True)
    for result in opened:
        if isinstance(result, BaseException):
            level.outcomes.append(Outcome(None, "error", f"open: {result!r}"))
    idle_rate = await server_at_rest(server_pids)
    server_before = cpu_seconds(server_pids) if server_pids else None
    client_before = cpu_seconds([os.getpid()], leave_out=server_pids)
    start = time.perf_counter()
    until = start + seconds

    async def one(index: int, client: Session, run: Run) -> None:
        await asyncio.sleep(random.Random(seed + index).uniform(0, pause[1]))
        try:
            await SCENARIOS[scenario](client, run, seed * 1000 + index, until, pause, timeout,
                                      level.outcomes.append)
        except ActionError as err:
            level.outcomes.append(Outcome(None, "error", str(err)))

    await asyncio.gather(*(one(i, c, r) for i, (c, r) in enumerate(zip(clients, opened))
                           if not isinstance(r, BaseException)))
    level.seconds = time.perf_counter() - start
    await asyncio.gather(*(task for c in clients for task in list(c.fetches)),
                         return_exceptions=True)  # the last pictures, still the level's work
    if server_pids:
        level.server_cpu = cpu_seconds(server_pids) - server_before - idle_rate * level.seconds
        level.idle_rate = idle_rate
        level.rss = rss_bytes(server_pids)
    level.client_cpu = cpu_seconds([os.getpid()], leave_out=server_pids) - client_before
    for client in clients:
        level.outcomes.extend(Outcome(None, "error", f"picture {e}") for e in client.media_errors)
    level.details = sorted({f"{o.result}: {o.detail}" for o in level.outcomes
                            if o.result != "ok" and o.detail})
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    return level


# ---------------------------------------------------------------- the command
def machine_speed(runs: int = 25) -> float:
    """A yardstick for comparing figures taken on different machines of the same kind: the
    median CPU milliseconds of the doodle preprocessing of one fixed 8-stroke canvas drawing
    (`vision.preprocess.doodle_from_canvas`, OpenCV on one thread as in the app), the largest
    part of a stroke's own work. Two machines sold as "2 cores" differed threefold on it."""
    from vision.preprocess import doodle_from_canvas
    from vision.strokes import render_strokes

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    drawing = Drawing(seed=0)
    for _ in range(8):
        drawing.add_stroke()
    canvas = render_strokes(drawing.strokes_value(), SIDE)
    try:
        times = []
        for _ in range(runs):
            start = time.thread_time()
            doodle_from_canvas(canvas)
            times.append(time.thread_time() - start)
    finally:
        cv2.setNumThreads(threads)
    return 1000 * float(np.median(times))


def warm_up(url: str, scenario: str, timeout: float, servers: int = 1) -> None:
    """First sessions open the home page (Streamlit serves deep links only after app.py ran
    once), then the scenario's page: its model is loaded, and the app's background preloading
    started, before measuring. Behind a balancer each session may reach another replica: with
    several `servers`, 4 sessions per server make it all but sure each one gets some."""
    async def visit():
        homes = [Session(url) for _ in range(4 * servers if servers > 1 else 1)]
        await asyncio.gather(*(home.open("", timeout) for home in homes))
        await asyncio.gather(*(home.close() for home in homes))
        await run_level(url, scenario, len(homes), 0.1, (0.0, 0.0), timeout, [])
    asyncio.run(visit())


def main(argv: list[str] | None = None) -> list[Level]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="doodle")
    parser.add_argument("--levels", default="1,4,8,16,32,64",
                        help="numbers of concurrent sessions, one level each")
    parser.add_argument("--seconds", type=float, default=30, help="acting time per level")
    parser.add_argument("--pause", default="1,3",
                        help="seconds a user waits between actions, min,max (default 1,3)")
    parser.add_argument("--timeout", type=float, default=30,
                        help="an action with no guess after this many seconds is a timeout")
    parser.add_argument("--url", help="drive this server (127.0.0.1 only) instead of starting one")
    parser.add_argument("--server-pid", type=int, action="append", default=[],
                        help="with --url: a server process to measure (once per process)")
    parser.add_argument("--cpus", help="start the server pinned to these cores (taskset -c)")
    parser.add_argument("--browsers", action="store_true",
                        help="Playwright Chromium clients instead of the protocol client")
    args = parser.parse_args(argv)
    levels = [int(n) for n in args.levels.split(",")]
    pause = tuple(float(p) for p in args.pause.split(","))
    server = None
    if args.url:
        url, pids = args.url.rstrip("/"), args.server_pid
    else:
        from tests.browser_support import free_port, start_server

        cpus = args.cpus or ("0" if args.browsers else None)
        port = free_port()
        server = start_server(port, cpus=cpus)
        url, pids = f"http://127.0.0.1:{port}", [server.pid]
    try:
        client = "Chromium (Playwright)" if args.browsers else "protocol client"
        print(f"# {args.scenario}, {client}, {args.seconds:.0f} s per level, pause "
              f"{pause[0]:g}-{pause[1]:g} s, {url}, {os.cpu_count()} cores"
              + (f", server on cores {cpus}" if server is not None and cpus else ""), flush=True)
        print(f"# machine speed: the doodle preprocessing of a fixed drawing takes "
              f"{machine_speed():.1f} ms of CPU here (tests.load.machine_speed)", flush=True)
        if args.browsers:
            from tests.load_browsers import run_browser_level, warm_up_browser

            warm_up_browser(url, args.timeout)
        else:
            warm_up(url, args.scenario, args.timeout, servers=len(pids))
        if pids:
            wait_until_quiet(pids)
        print(HEADER, flush=True)
        results = []
        for sessions in levels:
            if args.browsers:
                level = run_browser_level(url, sessions, args.seconds, pause, args.timeout, pids)
            else:
                level = asyncio.run(run_level(url, args.scenario, sessions, args.seconds, pause,
                                              args.timeout, pids))
            results.append(level)
            print(level.row(), flush=True)
            ended = sum(o.result == "ended" for o in level.outcomes)
            if ended:  # counted among the actions, not as timeouts: no guess was due
                print(f"|     | {ended} strokes landed as their round ended (the page showed the "
                      "verdict instead of a guess)", flush=True)
            for detail in level.details[:5]:
                print(f"|     | {detail[:150]}", flush=True)
        print("acts: actions measured; /s: per second; srv/cli ms: CPU per action of the server "
              "(all its processes, less its CPU at rest measured for "
              f"{IDLE_SECONDS} s before the level: "
              + ", ".join(f"{level.idle_rate * 1000:.0f}" for level in results)
              + " ms/s) and of the client; RSS: the server's, at the level's end.")
        return results
    finally:
        if server is not None:
            server.kill()
            server.wait(timeout=20)
            server.log_path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
