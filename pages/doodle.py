"""Doodle: draw (any pen) or upload a drawing, and a CNN trained on Quick, Draw! guesses after
every stroke, says when it is not sure yet, shows where it looked and the 28x28 picture it
actually receives."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import downloads, loaders, teach, widgets
from vision.calibration import is_unsure
from vision.errors import DrawingTooSmallError, EmptyCanvasError, VisionLabError
from vision.heatmaps import enlarge, fit_for_display, overlay_heatmap
from vision.images import jpeg_data_url
from vision.registry import get_dataset

DATASET = "quickdraw"
BIG = 280
DRAW, UPLOAD = "Draw", "Upload a drawing"
UNSURE = "I'm not sure yet"


def show_results(spec, rgba: np.ndarray | None, uploaded: bool = False) -> None:
    """Everything the model makes of one drawing: top-1 (or "not sure yet"), bars, heat maps,
    and each step to its 28x28 input (open at first for an upload, where the paper and the ink
    mask are worth seeing; a click away on the canvas)."""
    if rgba is None:
        widgets.show_placeholder_top1("Draw something")
        st.info("Draw one of the things listed above on the canvas, or upload a drawing: the "
                "guess appears after every stroke.", icon=":material/draw:")
        return
    try:
        prepared = widgets.prepared_input(widgets.InputImage(rgba, "your drawing"), spec.preprocessing)
    except DrawingTooSmallError as err:
        widgets.show_placeholder_top1("Too small to read")
        st.info(str(err), icon=":material/zoom_in:")
        return
    except EmptyCanvasError as err:
        widgets.show_placeholder_top1("Draw something")
        st.info(str(err), icon=":material/draw:")
        return
    except VisionLabError as err:
        widgets.show_error(err)
        return
    probabilities, explanation = loaders.guess(spec.name, prepared.model_input)
    top = int(np.argmax(probabilities))
    calibration = (loaders.metrics(spec.name) or {}).get("calibration")
    if is_unsure(probabilities, calibration):
        widgets.show_placeholder_top1(UNSURE)
        st.caption(f"My best guess so far is **{spec.labels[top]}** ({probabilities[top]:.1%}), "
                   f"below the {float(calibration['unsure_below']):.0%} I need to say it. Keep "
                   "drawing, or draw it bigger and clearer.")
    else:
        widgets.show_top1(spec.labels[top], float(probabilities[top]))
    widgets.show_top_k(spec.labels, probabilities, key="doodle_k")

    input28 = prepared.model_input[..., 0].astype(np.uint8)
    if explanation is None:  # a model without conv layers: nothing to show where it looked
        st.image(enlarge(input28, BIG), caption="What the model sees: 28x28 pixels")
        return
    alpha = widgets.opacity("doodle_opacity")
    seen, drawn = st.columns(2)
    overlay = overlay_heatmap(enlarge(input28, BIG), explanation.heatmap, alpha)  # drawn once
    # inline: these two pictures change on every stroke (vision.images.jpeg_data_url)
    seen.image(jpeg_data_url(overlay), caption=f"Where it looked for {spec.labels[top]}, on the "
               "28x28 input", width="stretch")
    downloads.heatmap_downloads(overlay, spec.labels, probabilities, "doodle_download",
                                f"doodle_{spec.labels[top]}")
    crop = next((step.image for step in prepared.steps if step.name == "cropped"), None)
    if crop is not None:
        heat = prepared.heatmap_on_crop(explanation.heatmap, crop.shape[:2])
        drawn.image(jpeg_data_url(overlay_heatmap(fit_for_display(255 - crop, BIG), heat, alpha)),
                    caption="The same map over your drawing", width="stretch")
    # Drawn only while open: five more pictures on every stroke are a good part of a stroke's
    # cost on the server (python -m tests.stroke_profile), and a class draws many strokes.
    steps = st.expander("What the model sees, step by step", expanded=uploaded,
                        key="doodle_steps_upload" if uploaded else "doodle_steps_draw",
                        on_change="rerun")
    if not steps.open:
        return
    with steps:
        widgets.show_steps(prepared.steps)
        st.caption("Quick, Draw! doodles are white lines on black, centred and drawn with one "
                   "thin pen: the paper is removed (its shade and shadows too), the lines found "
                   "whatever their darkness or colour (the ink mask), the drawing cropped, its "
                   "strokes given the dataset's pen width, and shrunk to 28x28 pixels.")


@st.fragment
def canvas_and_results(spec) -> None:
    """The canvas (or an upload) and the results together: a stroke reruns only this part."""
    pad, results = st.columns([1, 1], gap="large")
    with pad:
        source = st.radio("Input", [DRAW, UPLOAD], horizontal=True, key="doodle_source",
                          label_visibility="collapsed")
        if source == UPLOAD:
            upload = widgets.uploaded_image(
                "doodle_upload", "Upload a drawing: a scan, a photo of paper, or a PNG")
            pixels = None if upload is None else upload.pixels
        else:
            live = st.toggle("Guess while I draw", key="doodle_live",
                             help="The guess follows the pen, about twice a second, instead of "
                                  "coming when you lift it.")
            pixels = widgets.drawing("doodle_pad", live=live)
            st.caption("Undo, Clear and the pens are in the canvas's toolbar. " + (
                "The guess follows your pen as you draw." if live
                else "The guess changes when you lift the pen."))
    with results:
        show_results(spec, pixels, uploaded=source == UPLOAD)


st.title("Doodle", anchor=False)
SPECS = get_dataset(DATASET).models
spec = widgets.model_choice(SPECS, key="doodle_model", default=get_dataset(DATASET).default_model) \
    if len(SPECS) > 1 else SPECS[0]
st.markdown(f"Draw one of these **{spec.num_classes} things** and {spec.title} guesses after "
            "every stroke:")
with st.container(key="doodle_classes"):
    st.markdown(" · ".join(f"**{label}**" for label in spec.labels))

if widgets.loaded_predictor(spec) is None:
    st.stop()
canvas_and_results(spec)
teach.add_a_class(spec)  # issue 13: teach the model a new doodle (ui/teach.py)
