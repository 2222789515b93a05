"""The class board's store, on SQLite and on a real PostgreSQL: every test runs on both.

PostgreSQL: test.sh starts a throwaway cluster (tests/postgres_server.py) and exports its URL as
VISION_LAB_TEST_DATABASE_URL. Run on its own (`pytest tests/test_board.py`), the tests start one
themselves. They never skip: without PostgreSQL installed they fail and say so, and in CI
(CI=true) a missing URL is a failure, so a CI that forgot to start the server cannot pass.
"""

from __future__ import annotations

import io
import os
import socket
import sqlite3
import threading
import time

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from PIL import Image, ImageDraw
from sqlalchemy import text
from sqlalchemy.engine import make_url

import postgres_server
from vision import board as board_module
from vision.board import (Board, BoardLimitError, BoardOfflineError, InvalidDrawingError,
                          NewDrawing, SendLimiter, clean_nickname)

URL_VARIABLE = "VISION_LAB_TEST_DATABASE_URL"


# ---------------------------------------------------------------- the two backends
@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get(URL_VARIABLE)
    if url:
        yield url
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the PostgreSQL tests: {URL_VARIABLE} is not set "
                    "(test.sh starts a cluster and sets it)")
    if postgres_server.bin_dir() is None:
        pytest.fail("PostgreSQL is not installed (./test.sh installs it: apt-get install -y postgresql)")
    folder = postgres_server.new_folder()
    try:
        yield postgres_server.start(folder)
    finally:
        postgres_server.stop(folder)


class Backend:
    """Makes boards on one database, each starting empty."""

    def __init__(self, kind: str, url: str):
        self.kind, self.url = kind, url

    def board(self, **options) -> Board:
        board = Board(self.url, **options)
        board.clear()
        return board


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", f"sqlite:///{tmp_path / 'data' / 'board.sqlite3'}")
    return Backend("postgresql", request.getfixturevalue("postgres_url"))


def png(shape: str = "circle", side: int = 160) -> bytes:
    image = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(image)
    if shape == "circle":
        draw.ellipse((30, 30, 130, 130), outline=0, width=6)
    else:
        draw.line((20, 80, 140, 80), fill=0, width=6)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def noise_png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side), np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def drawing(prompt="moon", guess="moon", probability=0.9, nickname=None, seed=0) -> NewDrawing:
    pixels = np.random.default_rng(seed).integers(0, 256, (28, 28, 1)).astype(np.float32)
    return NewDrawing(prompt, guess, probability, pixels, png(), nickname)


# ---------------------------------------------------------------- save, list, clear
def test_a_saved_drawing_comes_back_whole(backend):
    board = backend.board()
    sent = drawing("cat", "fish", 0.625, "<i>Zoë</i>", seed=3)
    result = board.save(sent)
    assert result.dropped == 0 and result.message == "Sent to the class board."
    [back] = board.latest()
    assert back.id == result.id
    assert (back.prompt, back.guess, back.probability, back.nickname) == ("cat", "fish", 0.625, "Zoë")
    assert back.model_input.dtype == np.uint8 and back.model_input.shape == (28, 28)
    assert np.array_equal(back.model_input, sent.model_input[..., 0].astype(np.uint8))
    assert back.picture_png == png()
    assert back.created_at.tzinfo is not None and abs(time.time() - back.created_at.timestamp()) < 60
    assert not back.recognised


def test_lists_are_grouped_newest_first_and_count_pairs(backend):
    board = backend.board()
    sent = [("moon", "moon"), ("cat", "cat"), ("moon", "apple"), ("moon", "moon"), ("cat", "fish")]
    ids = [board.save(drawing(p, g, seed=i)).id for i, (p, g) in enumerate(sent)]
    assert ids == sorted(ids)
    assert board.count() == 5
    assert [d.id for d in board.latest()] == ids[::-1]
    assert [d.id for d in board.latest(limit=2)] == ids[:-3:-1]
    assert [d.id for d in board.latest(prompt="moon")] == [ids[3], ids[2], ids[0]]
    assert [d.id for d in board.latest(prompt="moon", guess="moon")] == [ids[3], ids[0]]
    assert board.pairs() == {("moon", "moon"): 2, ("moon", "apple"): 1, ("cat", "cat"): 1,
                             ("cat", "fish"): 1}
    grouped = board.latest_per_prompt(per_prompt=2)
    assert {p: [d.id for d in ds] for p, ds in grouped.items()} == {
        "moon": [ids[3], ids[2]], "cat": [ids[4], ids[1]]}


def test_hardest_drawing_per_prompt(backend):
    board = backend.board()
    easy = board.save(drawing("moon", "moon", 0.99)).id
    unsure = board.save(drawing("moon", "moon", 0.55)).id
    board.save(drawing("moon", "apple", 0.40))
    sure_wrong = board.save(drawing("moon", "eye", 0.85)).id  # surest it was something else
    right_1 = board.save(drawing("cat", "cat", 0.70)).id
    board.save(drawing("cat", "cat", 0.95))
    hardest = board.hardest_per_prompt()
    assert hardest["moon"].id == sure_wrong
    assert hardest["cat"].id == right_1  # all recognised: the least sure one
    assert easy != unsure  # (both stay on the board)
    assert set(hardest) == {"moon", "cat"}


def test_clear_removes_everything(backend):
    board = backend.board()
    for seed in range(3):
        board.save(drawing(seed=seed))
    assert board.clear() == 3
    assert board.count() == 0 and board.latest() == [] and board.pairs() == {}
    assert board.save(drawing()).id > 0  # and it takes drawings again


# ---------------------------------------------------------------- limits
def test_only_the_newest_are_kept_and_the_message_says_so(backend):
    board = backend.board(max_kept=5)
    ids = [board.save(drawing(seed=i)).id for i in range(5)]
    result = board.save(drawing(seed=5))
    assert result.dropped == 1
    assert "keeps the newest 5 drawings" in result.message and "oldest one was removed" in result.message
    assert board.count() == 5
    assert [d.id for d in board.latest(limit=10)] == [result.id, *ids[:0:-1]]  # the first one went


def test_the_default_limits_are_the_issues():
    assert board_module.MAX_KEPT == 10_000
    limiter = SendLimiter()
    assert (limiter.min_interval, limiter.max_sends) == (1.0, 200)


def test_one_drawing_a_second_and_200_per_browser_session():
    now = [100.0]
    limiter = SendLimiter(clock=lambda: now[0])
    limiter.check()
    limiter.record()
    now[0] += 0.5
    with pytest.raises(BoardLimitError, match="One drawing a second"):
        limiter.check()
    now[0] += 0.5
    limiter.check()  # a second later: fine
    for _ in range(199):
        limiter.record()
        now[0] += 1.0
    assert limiter.sent == 200
    with pytest.raises(BoardLimitError, match="sent 200 drawings"):
        limiter.check()


@pytest.mark.parametrize("bad, message", [
    (dict(model_input=np.zeros((32, 32))), "28x28"),
    (dict(model_input=np.full((28, 28), 300.0)), "28x28"),
    (dict(probability=1.5), "between 0 and 1"),
    (dict(probability=float("nan")), "between 0 and 1"),
    (dict(picture_png=b"GIF89a not a png"), "PNG"),
    (dict(picture_png=b"\x89PNG\r\n\x1a\n" + b"\0" * 40), "readable PNG"),
    (dict(picture_png=png(side=2000)), "small PNG"),  # few bytes, but 2000 pixels wide
    (dict(picture_png=noise_png(300)), "small PNG"),  # 300 pixels, but 90 KB
    (dict(prompt=""), "prompt"),
    (dict(guess="x" * 41), "guess"),
])
def test_a_bad_drawing_is_refused_and_nothing_is_written(backend, bad, message):
    board = backend.board()
    fields = dict(prompt="moon", guess="moon", probability=0.9, model_input=np.zeros((28, 28)),
                  picture_png=png(), nickname=None) | bad
    with pytest.raises(InvalidDrawingError, match=message):
        board.save(NewDrawing(**fields))
    assert board.count() == 0


# ---------------------------------------------------------------- nicknames
@pytest.mark.parametrize("raw, clean", [
    ("Ada", "Ada"),
    ("  Ada   Lovelace ", "Ada Lovelace"),
    ("<script>alert(1)</script>Bob", "alert1Bob"),
    ('<img src=x onerror="x()">Eve', "Eve"),
    ("**bold** _it_ `code` [link](http://x)", "bold it code linkhtt"),
    (":red[Mallory] :material/home:", "redMallory material/"),
    ("Tab\there\nnew\x00line\x1b[31m", "Tab here newline31m"),
    ("Zo\u00eb \u202eevil\u200b", "Zoë evil"),
    ("Ｆｕｌｌｗｉｄｔｈ", "Fullwidth"),
    ("x" * 50, "x" * 20),
    ("", None), ("   ", None), ("<b></b>", None), (None, None),
    ("李小龍 🐉", "李小龍 🐉"),
])
def test_nicknames_are_cleaned(raw, clean):
    assert clean_nickname(raw) == clean
    assert clean is None or len(clean) <= 20


def test_a_stored_nickname_is_the_cleaned_one(backend):
    board = backend.board()
    board.save(drawing(nickname="<b>Team</b> **Rocket** with a very long name"))
    assert board.latest()[0].nickname == "Team Rocket with a v"


# ---------------------------------------------------------------- concurrency
SENDERS, EACH = 30, 5


def send_all_at_once(board: Board) -> list[int]:
    barrier = threading.Barrier(SENDERS)
    ids: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def student(number: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(EACH):
                new = board.save(drawing(nickname=f"s{number}-{i}", seed=number * EACH + i)).id
                with lock:
                    ids.append(new)
        except BaseException as err:  # reported below: a lost drawing must fail the test
            errors.append(err)

    threads = [threading.Thread(target=student, args=(n,)) for n in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return ids


def test_thirty_students_sending_at_once_lose_nothing(backend):
    board = backend.board()
    ids = send_all_at_once(board)
    assert len(ids) == len(set(ids)) == SENDERS * EACH
    assert board.count() == SENDERS * EACH
    names = {d.nickname for d in board.latest(limit=1000)}
    assert names == {f"s{n}-{i}" for n in range(SENDERS) for i in range(EACH)}


def test_the_limit_holds_with_thirty_senders_at_once(backend):
    board = backend.board(max_kept=40)
    ids = send_all_at_once(board)
    assert board.count() == 40
    assert sorted(d.id for d in board.latest(limit=1000)) == sorted(ids)[-40:]


# ---------------------------------------------------------------- the schema
def test_the_migrated_schema_is_the_one_in_the_code(backend):
    board = backend.board()
    with board.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), board_module.metadata) == []
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == "0001"
    board.migrate()  # again: nothing to do, nothing breaks
    Board(backend.url).migrate()  # another replica starting on the same database


def test_boards_starting_at_once_in_one_process_migrate_safely(backend):
    """Alembic keeps its migration context in module globals: Boards migrating together in one
    process (replicas in threads, tests) must take turns, not crash."""
    backend.board()
    boards = [Board(backend.url) for _ in range(8)]
    barrier = threading.Barrier(len(boards))
    errors: list[BaseException] = []

    def start(board: Board) -> None:
        try:
            barrier.wait(timeout=30)
            board.migrate()
            board.save(drawing())
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=start, args=(b,)) for b in boards]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert boards[0].count() == len(boards)


# ---------------------------------------------------------------- the store down, and back
class Gate:
    """A TCP relay in front of PostgreSQL: closing it is, for the app, the server going down
    (connections cut, new ones refused), and opening it again brings the server back."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.port = postgres_server._free_port()
        self.connections: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.open()

    def open(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def close(self) -> None:
        try:  # shutdown wakes the thread blocked in accept(); close alone would not
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for connection in self.connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()
        self.connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.connections += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def outage(backend, tmp_path):
    """(url, down, up) for a database that works: how to make it fail and come back.
    PostgreSQL: the network to the server is cut. SQLite: another program holds the write lock
    (a backup, a second app writing the file) for longer than the board waits."""
    if backend.kind == "sqlite":
        path = tmp_path / "board.sqlite3"
        locker = {}

        def down():
            locker["connection"] = sqlite3.connect(path, isolation_level=None)
            locker["connection"].execute("BEGIN EXCLUSIVE")

        def up():
            locker.pop("connection").close()
        yield f"sqlite:///{path}", down, up
        if locker:
            up()
        return
    real = make_url(backend.url)
    gate = Gate(real.host, real.port)
    yield real.set(port=gate.port).render_as_string(hide_password=False), gate.close, gate.open
    gate.close()


@pytest.fixture
def down_at_start(backend, tmp_path):
    """(url, up) for a database that cannot be reached when the app starts. PostgreSQL: the
    server does not answer. SQLite: the data folder cannot be made (a file is in the way)."""
    if backend.kind == "sqlite":
        folder = tmp_path / "data"
        folder.write_text("not a folder")
        yield f"sqlite:///{folder / 'board.sqlite3'}", folder.unlink
        return
    real = make_url(backend.url)
    gate = Gate(real.host, real.port)
    gate.close()
    yield real.set(port=gate.port).render_as_string(hide_password=False), gate.open
    gate.close()


def test_a_store_down_at_start_says_so_and_comes_back(down_at_start):
    url, up = down_at_start
    board = Board(url, connect_timeout=2, status_every=0)
    assert not board.online()
    with pytest.raises(BoardOfflineError, match="offline"):
        board.save(drawing())
    with pytest.raises(BoardOfflineError):
        board.latest()
    up()  # back: the same Board migrates and works, without a restart of the app
    assert board.online()
    board.clear()
    assert board.save(drawing()).id > 0 and board.count() == 1


def test_a_store_going_down_refuses_drawings_and_nothing_is_half_written(outage):
    url, down, up = outage
    board = Board(url, connect_timeout=2, lock_timeout=0.5, status_every=0)
    board.clear()
    first = board.save(drawing(seed=1)).id
    down()
    assert not board.online()
    with pytest.raises(BoardOfflineError, match="offline"):
        board.save(drawing(seed=2))
    up()
    assert board.online()
    assert [d.id for d in board.latest()] == [first]  # the refused drawing left nothing behind
    assert board.save(drawing(seed=3)).id > first
    assert board.count() == 2


def test_a_read_only_sqlite_file_refuses_drawings_but_shows_the_board(tmp_path):
    path = tmp_path / "board.sqlite3"
    writable = Board(f"sqlite:///{path}")
    writable.save(drawing())
    writable.engine.dispose()
    read_only = Board(f"sqlite:///file:{path}?mode=ro&uri=true", status_every=0)
    assert not read_only.online()
    with pytest.raises(BoardOfflineError):
        read_only.save(drawing(seed=1))
    assert Board(f"sqlite:///{path}").count() == 1


@pytest.mark.parametrize("url", ["not a url", "mysql://u@localhost/board", "nosuchdb://x"])
def test_an_unusable_database_address_is_an_offline_board(url):
    board = Board(url)
    assert not board.online()
    with pytest.raises(BoardOfflineError, match="VISION_LAB_DATABASE_URL"):
        board.save(drawing())


def test_the_default_store_is_sqlite_in_the_data_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("VISION_LAB_DATABASE_URL", raising=False)
    assert board_module.database_url() == f"sqlite:///{board_module.DATA_DIR / 'class_board.sqlite3'}"
    monkeypatch.setattr(board_module, "DATA_DIR", tmp_path / "fresh" / "data")
    board = Board()
    board.save(drawing())
    assert (tmp_path / "fresh" / "data" / "class_board.sqlite3").is_file()  # folder made on first use
    monkeypatch.setenv("VISION_LAB_DATABASE_URL", "postgresql://u@db.example/board")
    assert Board().url == "postgresql+psycopg://u@db.example/board"
