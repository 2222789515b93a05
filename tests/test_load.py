"""The load test (tests/load.py): its short run against a real server, and the facts its
measurements rest on. The short run asserts what must hold at any speed: every stroke got its
new guess, no errors, no timeouts. Times are printed by `python -m tests.load`, never asserted."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import cv2
import numpy as np
from streamlit.proto.Element_pb2 import Element as ElementProto

from tests import load
from vision.strokes import render_strokes


def test_both_canvas_values_carry_the_same_drawing():
    """The before/after comparison is fair only if the old canvas's PNG and the new canvas's
    strokes hold the same drawing: the server draws the strokes where the PNG has its ink."""
    drawing = load.Drawing(seed=3)
    for _ in range(5):
        drawing.add_stroke()
    ours = json.loads(load.canvas_state("vision_lab.canvas", drawing))["strokes"]
    assert ours["side"] == load.SIDE and len(ours["strokes"]) == 5
    points = np.array([p for s in ours["strokes"] for p in s["points"]])
    assert points.min() >= 0 and points.max() <= load.SIDE
    assert np.allclose(points, np.round(points, 1))  # one decimal, as the browser sends them
    old = json.loads(load.canvas_state("streamlit-drawable-canvas.streamlit_drawable_canvas",
                                       drawing))["drawing"]
    png = base64.b64decode(old["data"].split(";base64,", 1)[1])
    old_ink = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE) < 128
    new_ink = render_strokes(ours, load.SIDE)[..., 0] < 128
    assert new_ink.sum() > 2000  # five strokes of a 12 px pen
    assert (old_ink & new_ink).sum() / (old_ink | new_ink).sum() > 0.85
    assert len(old["raw"]["objects"]) == 5


def heading(body: str, fragment: str = "f") -> load.Element:
    proto = ElementProto()
    proto.heading.body = body
    return load.Element("heading", fragment, proto.heading, 0.0)


def test_only_a_guess_in_the_canvas_fragment_counts():
    run = load.Run(elements=[heading("Draw something"), heading("Doodle", fragment="")])
    assert run.guess("f") is None  # a placeholder is no guess: such a stroke is lost
    run.elements.append(heading("cat - 97.3%", fragment="other"))
    assert run.guess("f") is None
    run.elements.append(heading("I see... moon? cat?"))
    assert run.guess("f").proto.body == "I see... moon? cat?"
    for body in ("cat - 97.3%", "I'm not sure yet", "Oh, I know, it's cat!",
                 "I'm not sure what that is..."):
        assert load.Run(elements=[heading(body)]).guess("f") is not None, body


def test_two_sessions_drawing_for_20_seconds_lose_no_stroke(capsys):
    (level,) = load.main(["--scenario", "doodle", "--levels", "2", "--seconds", "20",
                          "--pause", "1,2"])
    print(capsys.readouterr().out)
    results = [outcome.result for outcome in level.outcomes]
    assert results.count("ok") >= 10, results  # two sessions, a stroke every 1-2 s
    assert results.count("error") == results.count("timeout") == 0, level.details
    assert results.count("lost") == 0, level.details
    assert level.server_cpu is not None and level.server_cpu > 0  # the server's CPU was read


def test_the_server_runs_no_full_garbage_collection_after_every_run():
    """Streamlit's postScriptGC (a full gc.collect after each script run) is what made the CPU
    per stroke climb with the number of sessions (README, Load test); the app's config turns it
    off, and Streamlit reads it from there."""
    out = subprocess.run([sys.executable, "-c", (
        "from streamlit import config; config.get_config_options(force_reparse=True); "
        "print(config.get_option('runner.postScriptGC'))")], capture_output=True, text=True,
        check=True, cwd=load.ROOT).stdout
    assert out.split()[-1] == "False"
