"""Load figures of the class board: a class of students sending at once.

    cd tests && ../.venv/bin/python board_load.py [--students 30] [--each 10]

Each student is a thread that sends `each` drawings as fast as it can, all starting together.
Printed for SQLite (a temporary file) and PostgreSQL (VISION_LAB_TEST_DATABASE_URL, or a
throwaway cluster started here): the wall time, drawings per second and the latency of one save
(median and 95th percentile), for the app's way (one Board per server, its pooled connections
shared by every session) against the naive way (a new Board, engine and connection, per drawing).
Rows are counted after each run: nothing may be lost.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, run from tests/
import postgres_server  # noqa: E402
from vision.board import Board, NewDrawing  # noqa: E402


def picture() -> bytes:
    image = Image.new("L", (160, 160), 255)
    ImageDraw.Draw(image).ellipse((30, 30, 130, 130), outline=0, width=6)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def run(url: str, students: int, each: int, shared: bool) -> dict:
    board = Board(url)
    board.clear()
    png, pixels = picture(), np.zeros((28, 28), np.uint8)
    barrier = threading.Barrier(students)
    latencies: list[float] = []
    lock = threading.Lock()

    def student(number: int) -> None:
        barrier.wait()
        for i in range(each):
            start = time.perf_counter()
            target = board if shared else Board(url)
            target.save(NewDrawing("moon", "moon", 0.9, pixels, png, f"s{number}-{i}"))
            if not shared:
                target.engine.dispose()
            with lock:
                latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=student, args=(n,)) for n in range(students)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    rows = board.count()
    board.engine.dispose()
    return dict(wall=wall, rate=students * each / wall, p50=np.median(latencies) * 1000,
                p95=np.percentile(latencies, 95) * 1000, rows=rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--each", type=int, default=10)
    args = parser.parse_args()
    expected = args.students * args.each
    with tempfile.TemporaryDirectory() as folder:
        pg_url, pg_folder = os.environ.get("VISION_LAB_TEST_DATABASE_URL"), None
        if not pg_url:
            pg_folder = postgres_server.new_folder()
            pg_url = postgres_server.start(pg_folder)
        try:
            backends = [("SQLite", f"sqlite:///{Path(folder) / 'board.sqlite3'}"),
                        ("PostgreSQL", pg_url)]
            print(f"{args.students} students sending {args.each} drawings each, all at once "
                  f"({expected} drawings)")
            print(f"{'store':<11} {'way':<26} {'wall s':>7} {'drawings/s':>11} "
                  f"{'p50 ms':>7} {'p95 ms':>7} {'rows':>5}")
            for name, url in backends:
                figures = {}
                for shared, way in ((True, "one Board (the app)"), (False, "new engine per drawing")):
                    f = figures[shared] = run(url, args.students, args.each, shared)
                    print(f"{name:<11} {way:<26} {f['wall']:7.2f} {f['rate']:11.0f} "
                          f"{f['p50']:7.1f} {f['p95']:7.1f} {f['rows']:5d}"
                          + ("" if f["rows"] == expected else "  LOST DRAWINGS"))
                print(f"{'':<11} {'ratio (naive / app)':<26} "
                      f"{figures[False]['wall'] / figures[True]['wall']:7.1f}x")
        finally:
            if pg_folder is not None:
                postgres_server.stop(pg_folder)


if __name__ == "__main__":
    main()
