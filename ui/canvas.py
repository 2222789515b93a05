"""The drawing canvas: our own Streamlit component (components v2, no build step).

The browser side is `ui/canvas.js` and `ui/canvas.css`, read here and registered once, when
this module is imported, under the name `CANVAS_NAME`. A square canvas as wide as its column
(at most `side` CSS pixels, so it fits any window from 360 px), with a toolbar that is always
shown: Undo, Clear, and the pens Thin, Medium, Thick and Eraser. Mouse, pen and touch all draw
(pointer events; the canvas keeps the pointer until the stroke ends, even off its edge).

The value
---------
After each stroke (pointerup), Undo and Clear, the browser sends the whole drawing as the
component's state value `strokes`, in the canvas's LOGICAL coordinates (0..side, whatever its
size on screen), numbers rounded to one decimal:

    {"side": 320, "strokes": [{"width": 12, "erase": false, "points": [[x, y], ...]}, ...]}

An empty drawing is `"strokes": []`. `vision.strokes.render_strokes` turns it into pixels.
Python passes `data={"side": ..., "pen": ..., "pens": {...}, "strokes": [...]}`: the drawing to start from
(the one kept in the session, when the canvas is mounted again), the starting pen and the
pens' widths.

How it appears in Streamlit's protocol (for a client without a browser, e.g. tests/load.py)
--------------------------------------------------------------------------------------------
- Server to browser: a `ForwardMsg` whose `delta.new_element` has the `bidi_component` field
  set (`Element.WhichOneof("type") == "bidi_component"`). That `BidiComponent` message has
  `component_name == CANVAS_NAME` ("vision_lab.canvas"), `id` = the widget id, and `json` =
  the data above as a JSON string (its `strokes` are what the canvas starts from).
  The id is Streamlit's element id for a keyed widget, `"$$ID-<hash>-<key>"`, where `<key>` is
  the key the page gives `widgets.drawing` (Doodle: "doodle_pad"; Play:
  "play_pad_<game>_<round>"; teach: "teach_pad_<n>", "teach_try_pad"; Your model:
  "your_model_pad"). Match it by `component_name` and `id.endswith("-" + key)`; do not compute
  the hash. The delta's `fragment_id` (ForwardMsg `delta.fragment_id`) is set when the canvas is
  inside an `st.fragment` (it is on Doodle): the browser reruns just that fragment.
- Browser to server: a `BackMsg` with `rerun_script` (a `ClientState`) whose
  `widget_states.widgets` holds, as every rerun does, the current state of every widget on the
  page, the canvas among them as a `WidgetState` with `id` = that widget id and
  `json_value` = `json.dumps({"strokes": <the value above>})` (a JSON object of the component's
  state keys; "strokes" is the only one). The browser sets `rerun_script.fragment_id` to the
  canvas's fragment id (from the delta) and `page_script_hash` to the page's hash, as for any
  widget inside a fragment. Streamlit registers a second, unused widget for the component's
  trigger events, `"$$STREAMLIT_INTERNAL_KEY_<id>__events"`; the canvas never sets it and a
  client need not send it.
- In the script, `st.session_state[key]` then reads `{"strokes": {...}}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

CANVAS_NAME = "vision_lab.canvas"
# Any pen works (the doodle preprocessing thins the strokes and redraws them at the dataset's
# width); medium looks like a felt pen at the size a drawing usually takes on the canvas. Widths
# are in logical pixels; the browser takes them from here (the data).
PEN_WIDTHS = {"thin": 3, "medium": 12, "thick": 28}
ERASER_WIDTH = 30
LIVE_MS = 400  # while the pen moves, on a live canvas: a guess about twice a second
_HERE = Path(__file__).resolve().parent

_mount = st.components.v2.component(
    CANVAS_NAME,
    js=(_HERE / "canvas.js").read_text(encoding="utf-8"),
    css=(_HERE / "canvas.css").read_text(encoding="utf-8"),
)


def strokes_canvas(key: str, side: int, pen: str = "medium",
                   initial: dict[str, Any] | None = None, live: bool = False) -> dict[str, Any] | None:
    """Show the canvas; the drawing it last sent (the value in the module docstring), or None
    while it has sent nothing (a fresh canvas, or one showing `initial` not yet changed).
    `initial` is a value of the same shape to start from; `pen` the starting pen ("thin",
    "medium", "thick" or "eraser"). `live`: the drawing is also sent while a stroke is drawn,
    every LIVE_MS, so the guess follows the pen (each send is a rerun: one user's page, not a
    class of thirty, can afford it)."""
    start = (initial or {}).get("strokes") or []
    result = _mount(key=key, data={"side": side, "pen": pen, "strokes": start,
                                         "pens": {**PEN_WIDTHS, "eraser": ERASER_WIDTH},
                                   "live_ms": LIVE_MS if live else 0},
                    on_strokes_change=_no_callback, width="stretch")
    value = result.get("strokes")
    return value if isinstance(value, dict) else None


def _no_callback() -> None:
    """Declaring the `strokes` state key (components v2 takes the state keys from the
    `on_<key>_change` arguments): the rerun the stroke makes is all the page needs."""
