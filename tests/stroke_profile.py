"""Where the server's time per stroke goes on the Doodle page: `python -m tests.stroke_profile`.

The Doodle page runs in-process under Streamlit's AppTest (the real page script, its caches and
the real model; no browser, no websocket), its canvas replaced by one that adds a stroke to the
drawing on every run, as a student does. After a few warm-up strokes it times `--strokes` runs
(wall time per stroke), then profiles as many again (cProfile) and splits each run's time among
the parts of the script: drawing the strokes, preprocessing, the model's prediction and CAM, the
heat-map overlays, sending the images (encoding them for the browser), the probability bars,
the download buttons, and the rest (Streamlit itself, the page's other code). It also prints the
size of what one stroke's run sends (the deltas' protobufs), the bars' share, and how big
the canvas's value is. Profiling slows the code it watches, unevenly: read the split as shares,
and the wall time (taken without the profiler) as the figure. Prints figures only.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import pstats
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

# The parts of a stroke's run: (name, [(file ending, function name), ...]). Each function's
# cumulative time counts once; none of them calls another listed under a different part.
PARTS = [
    ("draw strokes (vision.strokes)", [("vision/strokes.py", "render_strokes")]),
    ("preprocess", [("ui/widgets.py", "prepared_input")]),
    ("prediction and CAM (one model call)", [("ui/loaders.py", "guess")]),
    ("heat-map overlays", [("vision/heatmaps.py", "overlay_heatmap")]),
    ("images to the browser (st.image)", [("streamlit/elements/image.py", "image")]),
    ("probability bars", [("ui/widgets.py", "show_top_k")]),
    ("download buttons", [("ui/downloads.py", "heatmap_downloads")]),
]


def drawing_after(n: int) -> dict:
    """The canvas's value after `n` strokes: a circle, then short lines around it, each stroke
    a new drawing (so no cache of a previous one answers)."""
    import drawn_shapes

    strokes = [drawn_shapes.circle(points=96)]
    for k in range(1, n):
        angle = 2 * math.pi * k / 7.3
        x, y = 160 + 120 * math.cos(angle), 160 + 120 * math.sin(angle)
        strokes.append(drawn_shapes.stroke(
            [(x + t * 20 * math.cos(angle + 1.2), y + t * 20 * math.sin(angle + 1.2))
             for t in range(12)]))
    return drawn_shapes.drawing(*strokes)


class GrowingCanvas:
    """The Doodle page's canvas: one stroke more on every run."""

    def __init__(self):
        self.count = 0

    def __call__(self, key, **kwargs):
        if key != "doodle_pad":
            return None
        self.count += 1
        return drawing_after(self.count)


def sent_bytes(at) -> tuple[int, int]:
    """The size of the elements one run produced (their protobufs), and of its probability bars."""
    total = charts = 0
    stack = [at._tree]
    while stack:
        node = stack.pop()
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ByteSize"):
            size = proto.ByteSize()
            if "vl-topk" in getattr(proto, "body", ""):
                charts += size
            if not getattr(node, "children", None):
                total += size
        stack.extend(getattr(node, "children", {}).values())
    return total, charts


FRAGMENT = ("pages/doodle.py", "canvas_and_results")  # what a stroke reruns in the browser


def profiled_run(at) -> cProfile.Profile:
    """One run of the page with the profiler on in the thread that runs the script (AppTest runs
    it in a thread of its own; a profiler watches only the thread that enables it)."""
    profile = cProfile.Profile()
    taken = []

    def enable(*_args):
        sys.setprofile(None)
        if not taken:  # the script's thread, the first one the run starts; one profiler, one thread
            taken.append(threading.current_thread().name)
            profile.enable()

    threading.setprofile(enable)
    try:
        at.run()
    finally:
        threading.setprofile(None)
        profile.disable()
    profile.thread = taken[0] if taken else None
    return profile


def part_times(profile: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(profile).stats
    times = {name: 0.0 for name, _ in PARTS + [("fragment", [FRAGMENT])]}
    for (path, _line, function), (_cc, _nc, _tt, cumulative, _callers) in stats.items():
        for name, functions in PARTS + [("fragment", [FRAGMENT])]:
            if any(path.endswith(end) and function == want for end, want in functions):
                times[name] += cumulative
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=20, help="strokes timed, and profiled")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--top", type=int, default=0, help="also print the last run's N costliest calls")
    args = parser.parse_args()

    import json

    from streamlit.testing.v1 import AppTest

    from ui import loaders, widgets

    loaders.keep_compiled_kernels()  # as app.py does in the server
    fake = GrowingCanvas()
    widgets._canvas_component = fake
    at = AppTest.from_file(str(ROOT / "pages" / "doodle.py"), default_timeout=300)
    at.run()
    for _ in range(args.warmup):
        at.run()
    assert not at.exception, at.exception

    walls = []
    for _ in range(args.strokes):
        start = time.perf_counter()
        at.run()
        walls.append(time.perf_counter() - start)
    assert not at.exception, at.exception
    total_bytes, chart_bytes = sent_bytes(at)

    parts = {name: [] for name, _ in PARTS}
    profiled = []
    for _ in range(args.strokes):
        last = profiled_run(at)
        times = part_times(last)
        profiled.append(times.pop("fragment"))
        for name, seconds in times.items():
            parts[name].append(seconds)
    value = json.dumps(drawing_after(fake.count), separators=(",", ":"))

    ms = lambda seconds: f"{1000 * seconds:7.1f} ms"  # noqa: E731
    print(f"Doodle page, one stroke's script run (AppTest, in-process), {args.strokes} strokes "
          f"after {fake.count - 2 * args.strokes} drawn before")
    print(f"  the whole page's run, p50 {ms(statistics.median(walls))}, max {ms(max(walls))} "
          "(no profiler; a browser's stroke reruns only the fragment below)")
    print(f"  the canvas's fragment (canvas_and_results) under the profiler (thread "
          f"{last.thread}), p50 {ms(statistics.median(profiled))}; split (p50 of each part):")
    rest = statistics.median(profiled)
    for name, values in parts.items():
        seconds = statistics.median(values)
        rest -= seconds
        print(f"    {name:<36}{ms(seconds)}  {100 * seconds / statistics.median(profiled):5.1f}%")
    print(f"    {'the rest (Streamlit, page code)':<36}{ms(max(rest, 0.0))}")
    if args.top:
        pstats.Stats(last).sort_stats("cumulative").print_stats(args.top)
    print(f"  elements of one run: {total_bytes / 1024:.1f} KiB of protobuf "
          f"(the probability bars {chart_bytes / 1024:.1f} KiB); canvas value after {fake.count} strokes: "
          f"{len(value) / 1024:.1f} KiB of JSON")


if __name__ == "__main__":
    main()
