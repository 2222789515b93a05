"""The class board's store: the drawings students chose to send, in one SQL table.

SQLite by default (a file in the project's `data/` folder, created on first use, no set-up), or
any database SQLAlchemy reaches when `VISION_LAB_DATABASE_URL` is set (PostgreSQL, so several app
replicas share one board). The schema is written once, below; Alembic migrations in
`vision/migrations/` create and change it, and they are applied when the store is first used.

Each drawing is saved in one transaction, together with the trimming of the oldest ones beyond
`MAX_KEPT`: a drawing is stored whole or not at all. A database that cannot be reached raises
`BoardOfflineError`, whose message can be shown as it is; the game goes on without the board.

What is stored, and nothing else: the 28x28 model input, a small PNG of the canvas, the prompt,
the model's guess and its probability, and an optional cleaned nickname.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
from sqlalchemy import (CheckConstraint, Column, DateTime, Float, Index, Integer, LargeBinary,
                        MetaData, String, Table, and_, case, create_engine, delete, event, func,
                        select)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import (ArgumentError, DatabaseError, InterfaceError, NoSuchModuleError,
                            OperationalError)

from vision.data import PROJECT_ROOT
from vision.errors import VisionLabError

log = logging.getLogger("vision_lab")

URL_VARIABLE = "VISION_LAB_DATABASE_URL"
DATA_DIR = PROJECT_ROOT / "data"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MAX_KEPT = 10_000          # drawings kept on the board; the oldest go first
MAX_PER_SESSION = 200      # drawings one browser session may send
MIN_INTERVAL = 1.0         # seconds between two drawings sent from one browser session
NICKNAME_MAX = 20
LABEL_MAX = 40
PICTURE_MAX_BYTES = 64 * 1024  # the canvas PNG (a 160x160 grey picture is a few KB)
PICTURE_MAX_SIDE = 512
INPUT_SIDE = 28
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class BoardOfflineError(VisionLabError):
    """The board's database cannot be reached or written to."""


class BoardLimitError(VisionLabError):
    """A drawing refused by the flood limits (too fast, or too many from one browser)."""


class InvalidDrawingError(VisionLabError):
    """A drawing that cannot go on the board as it is (wrong size, not a PNG...)."""


# ---------------------------------------------------------------- the schema, written once
metadata = MetaData()
drawings = Table(
    "drawings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("prompt", String(LABEL_MAX), nullable=False),
    Column("guess", String(LABEL_MAX), nullable=False),
    Column("probability", Float, nullable=False),
    Column("nickname", String(NICKNAME_MAX), nullable=True),
    Column("input28", LargeBinary, nullable=False),      # 784 bytes, row by row
    Column("picture_png", LargeBinary, nullable=False),  # the canvas, small
    CheckConstraint("probability >= 0 AND probability <= 1", name="ck_drawings_probability"),
    Index("ix_drawings_prompt_id", "prompt", "id"),
    sqlite_autoincrement=True,  # ids are never reused after a trim or a clear
)


# ---------------------------------------------------------------- records
@dataclass(frozen=True)
class NewDrawing:
    """A drawing a student sends."""

    prompt: str
    guess: str
    probability: float
    model_input: np.ndarray  # (28, 28) or (28, 28, 1), 0-255
    picture_png: bytes
    nickname: str | None = None


@dataclass(frozen=True)
class Drawing:
    """A drawing on the board."""

    id: int
    created_at: datetime
    prompt: str
    guess: str
    probability: float
    nickname: str | None
    model_input: np.ndarray = field(repr=False)  # (28, 28) uint8
    picture_png: bytes = field(repr=False)

    @property
    def recognised(self) -> bool:
        return self.guess == self.prompt


@dataclass(frozen=True)
class SaveResult:
    id: int
    dropped: int  # the oldest drawings removed to stay within `kept`
    kept: int = MAX_KEPT

    @property
    def message(self) -> str:
        text = "Sent to the class board."
        if self.dropped:
            text += (f" The board keeps the newest {self.kept:,} drawings, so the oldest "
                     f"{'one was' if self.dropped == 1 else f'{self.dropped} were'} removed.")
        return text


# ---------------------------------------------------------------- cleaning and limits
_TAG = re.compile(r"<[^<>]*>?")  # a tag, or the start of one cut short
# characters that mean something in Markdown, HTML or Streamlit's text (":red[...]", ":icon:")
_MARKUP = set("<>&\"`*_~#[](){}|\\$^=:")


def clean_nickname(text: str | None) -> str | None:
    """A nickname fit to show to a class: markup and control characters removed, spaces
    collapsed, at most 20 characters. None when nothing is left."""
    if text is None:
        return None
    text = unicodedata.normalize("NFKC", str(text))
    text = "".join(" " if ch.isspace() else ch for ch in text)  # tabs, new lines: one space
    text = _TAG.sub("", text)
    text = "".join(ch for ch in text
                   if ch not in _MARKUP and unicodedata.category(ch)[0] != "C"
                   and unicodedata.category(ch) not in ("Zl", "Zp"))
    text = " ".join(text.split())[:NICKNAME_MAX].strip()
    return text or None


class SendLimiter:
    """The flood limits of one browser session: one drawing a second, 200 in all."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 min_interval: float = MIN_INTERVAL, max_sends: int = MAX_PER_SESSION):
        self.clock, self.min_interval, self.max_sends = clock, min_interval, max_sends
        self.sent = 0
        self.last: float | None = None

    def check(self) -> None:
        """Raise BoardLimitError, with a message saying why, when a drawing may not go now."""
        if self.sent >= self.max_sends:
            raise BoardLimitError(
                f"This browser has sent {self.max_sends} drawings to the class board, the most "
                "one session may send. Thank you for drawing so much!")
        if self.last is not None and self.clock() - self.last < self.min_interval:
            raise BoardLimitError("One drawing a second at most: wait a moment and send again.")

    def record(self) -> None:
        """Count a drawing that was saved."""
        self.sent += 1
        self.last = self.clock()


def _validated(drawing: NewDrawing) -> dict:
    """The row to insert, or InvalidDrawingError: nothing is written from a bad drawing."""
    def label(value: str, what: str) -> str:
        value = str(value).strip()
        if not value or len(value) > LABEL_MAX or any(unicodedata.category(c)[0] == "C" for c in value):
            raise InvalidDrawingError(f"The {what} of this drawing is not a class name.")
        return value

    pixels = np.asarray(drawing.model_input)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    if pixels.shape != (INPUT_SIDE, INPUT_SIDE) or not np.all(np.isfinite(pixels)) \
            or pixels.min() < 0 or pixels.max() > 255:
        raise InvalidDrawingError("A board drawing must be the 28x28 picture the model saw.")
    probability = float(drawing.probability)
    if not math.isfinite(probability) or not 0.0 <= probability <= 1.0:
        raise InvalidDrawingError("The guess's probability must be between 0 and 1.")
    picture = bytes(drawing.picture_png)
    if not picture.startswith(PNG_SIGNATURE) or len(picture) > PICTURE_MAX_BYTES:
        raise InvalidDrawingError("The canvas picture must be a small PNG image.")
    try:
        from PIL import Image

        with Image.open(io.BytesIO(picture)) as image:
            size = image.size
            image.verify()
    except Exception:
        raise InvalidDrawingError("The canvas picture is not a readable PNG image.") from None
    if max(size) > PICTURE_MAX_SIDE:
        raise InvalidDrawingError("The canvas picture must be a small PNG image.")
    return dict(created_at=datetime.now(timezone.utc), prompt=label(drawing.prompt, "prompt"),
                guess=label(drawing.guess, "guess"), probability=probability,
                nickname=clean_nickname(drawing.nickname),
                input28=np.rint(pixels).astype(np.uint8).tobytes(), picture_png=picture)


def _drawing(row) -> Drawing:
    created = row.created_at
    if created.tzinfo is None:  # SQLite keeps no time zone: it was written in UTC
        created = created.replace(tzinfo=timezone.utc)
    return Drawing(row.id, created, row.prompt, row.guess, float(row.probability), row.nickname,
                   np.frombuffer(row.input28, np.uint8).reshape(INPUT_SIDE, INPUT_SIDE).copy(),
                   bytes(row.picture_png))


# ---------------------------------------------------------------- the store
def database_url() -> str:
    """`VISION_LAB_DATABASE_URL` when set, else the SQLite file in the data folder."""
    url = os.environ.get(URL_VARIABLE, "").strip()
    return url or f"sqlite:///{DATA_DIR / 'class_board.sqlite3'}"


def _normalised(url: str) -> str:
    """postgres:// and postgresql:// go through psycopg 3 (the driver requirements.txt installs)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _engine(url: str, connect_timeout: float, lock_timeout: float) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": lock_timeout})
        busy_ms = int(lock_timeout * 1000)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # readers never block the writer
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
                cursor.execute("PRAGMA journal_mode = WAL")
            except Exception:  # a read-only database keeps its journal mode: fine
                pass
            finally:
                cursor.close()
        return engine
    connect_args = {"connect_timeout": int(max(1, connect_timeout))} \
        if parsed.get_backend_name() == "postgresql" else {}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


# Alembic runs migrations through module-level globals (`alembic.context`): two migrations at
# once in one process, even of two different Boards, would trip over each other.
_MIGRATION_LOCK = threading.Lock()

OFFLINE_MESSAGE = ("The class board is offline: its database cannot be reached or written to "
                   "right now. The game works as usual; send your drawings when it is back.")


class Board:
    """The class board's drawings. Thread-safe: one Board serves every session of a server."""

    def __init__(self, url: str | None = None, max_kept: int = MAX_KEPT,
                 connect_timeout: float = 3.0, lock_timeout: float = 30.0,
                 status_every: float = 2.0):
        """`connect_timeout`: how long to wait for a database server; `lock_timeout`: how long
        a SQLite writer waits for another to finish (30 students sending at once queue up)."""
        self.url = _normalised(url or database_url())
        self.max_kept = max_kept
        self._unusable: str | None = None  # why the URL itself cannot work (a typo, no driver)
        try:
            self.engine = _engine(self.url, connect_timeout, lock_timeout)
        except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as err:
            log.warning("class board URL unusable: %s", err)
            self.engine = None
            self._unusable = (f"The class board is offline: its database address "
                              f"({URL_VARIABLE}) is not one it can use ({err.__class__.__name__}).")
        self.is_sqlite = self.engine is not None and self.engine.dialect.name == "sqlite"
        self._migrated = False
        self._status_every = status_every
        self._status: tuple[float, bool] | None = None

    # ------------------------------------------------------------ set-up and health
    def _sqlite_folder(self) -> None:
        database = self.engine.url.database
        if self.is_sqlite and database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)

    def migrate(self) -> None:
        """Bring the schema up to date with the Alembic migrations (once per Board; retried
        after a failure). Raises BoardOfflineError when the database cannot be reached."""
        if self._migrated:
            return
        if self._unusable:
            raise BoardOfflineError(self._unusable)
        with _MIGRATION_LOCK:
            if self._migrated:
                return
            from alembic import command
            from alembic.config import Config

            try:
                self._sqlite_folder()
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS))
                with self.engine.begin() as connection:
                    if self.engine.dialect.name == "postgresql":  # replicas starting together
                        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(20261201)")
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
            except (OperationalError, InterfaceError, DatabaseError, OSError) as err:
                log.warning("class board offline (%s): %s", self.engine.url.render_as_string(),
                            err.__class__.__name__)
                raise BoardOfflineError(OFFLINE_MESSAGE) from err
            self._migrated = True

    def _run(self, work: Callable, write: bool = False):
        """Run `work(connection)` in one transaction, after the migrations."""
        self.migrate()
        try:
            with self.engine.begin() as connection:
                result = work(connection)
        except (OperationalError, InterfaceError, DatabaseError) as err:
            log.warning("class board %s failed: %s", "write" if write else "read", err)
            self._status = (time.monotonic(), False)
            raise BoardOfflineError(OFFLINE_MESSAGE) from err
        return result

    def online(self) -> bool:
        """Whether drawings can be saved now: the database answers and accepts a write (a
        no-op DELETE, which a read-only SQLite file refuses). Checked at most every 2 s."""
        now = time.monotonic()
        if self._status is not None and now - self._status[0] < self._status_every:
            return self._status[1]
        try:
            self._run(lambda c: c.execute(delete(drawings).where(drawings.c.id < 0)), write=True)
            ok = True
        except BoardOfflineError:
            ok = False
        self._status = (time.monotonic(), ok)
        return ok

    # ------------------------------------------------------------ writing
    def save(self, drawing: NewDrawing) -> SaveResult:
        """Save one drawing and trim the oldest beyond `max_kept`, in one transaction."""
        row = _validated(drawing)

        def work(connection) -> SaveResult:
            if connection.dialect.name == "postgresql":
                # one writer at a time, so that the trim sees every committed drawing and the
                # board never holds more than max_kept (SQLite serialises writers by itself)
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(20261202)")
            new_id = connection.execute(drawings.insert().values(**row)).inserted_primary_key[0]
            # the id of the oldest drawing that stays; everything older goes
            keep_from = select(drawings.c.id).order_by(drawings.c.id.desc()) \
                .offset(self.max_kept - 1).limit(1).scalar_subquery()
            dropped = connection.execute(delete(drawings).where(drawings.c.id < keep_from)).rowcount
            return SaveResult(int(new_id), max(0, int(dropped or 0)), self.max_kept)

        return self._run(work, write=True)

    def clear(self) -> int:
        """Remove every drawing; returns how many there were."""
        return int(self._run(lambda c: c.execute(delete(drawings)).rowcount, write=True) or 0)

    # ------------------------------------------------------------ reading
    def count(self) -> int:
        return int(self._run(lambda c: c.execute(select(func.count()).select_from(drawings)).scalar_one()))

    def pairs(self) -> dict[tuple[str, str], int]:
        """How many drawings of each (prompt, guess): the class confusion matrix."""
        query = select(drawings.c.prompt, drawings.c.guess, func.count()).group_by(
            drawings.c.prompt, drawings.c.guess)
        return {(p, g): int(n) for p, g, n in self._run(lambda c: c.execute(query).all())}

    def latest(self, prompt: str | None = None, guess: str | None = None,
               limit: int = 12) -> list[Drawing]:
        """The newest drawings (of one prompt, and of one guess, when given), newest first."""
        query = select(drawings).order_by(drawings.c.id.desc()).limit(limit)
        if prompt is not None:
            query = query.where(drawings.c.prompt == prompt)
        if guess is not None:
            query = query.where(drawings.c.guess == guess)
        return [_drawing(row) for row in self._run(lambda c: c.execute(query).all())]

    def latest_per_prompt(self, per_prompt: int = 12) -> dict[str, list[Drawing]]:
        """The newest `per_prompt` drawings of every prompt, newest first, in one query."""
        rank = func.row_number().over(partition_by=drawings.c.prompt,
                                      order_by=drawings.c.id.desc()).label("rank")
        ranked = select(drawings, rank).subquery()
        query = select(ranked).where(ranked.c.rank <= per_prompt).order_by(
            ranked.c.prompt, ranked.c.id.desc())
        grouped: dict[str, list[Drawing]] = {}
        for row in self._run(lambda c: c.execute(query).all()):
            grouped.setdefault(row.prompt, []).append(_drawing(row))
        return grouped

    def hardest_per_prompt(self) -> dict[str, Drawing]:
        """Per prompt, the drawing the model found hardest: among those it did not recognise,
        the one it was surest was something else; when it recognised them all, the one it was
        least sure of. Newest first among equals."""
        missed = drawings.c.guess != drawings.c.prompt
        order = (case((missed, 0), else_=1),
                 case((missed, -drawings.c.probability), else_=drawings.c.probability),
                 drawings.c.id.desc())
        rank = func.row_number().over(partition_by=drawings.c.prompt, order_by=order).label("rank")
        ranked = select(drawings, rank).subquery()
        query = select(ranked).where(and_(ranked.c.rank == 1))
        return {row.prompt: _drawing(row) for row in self._run(lambda c: c.execute(query).all())}
