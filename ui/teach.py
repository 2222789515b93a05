""""Add a class" on the Doodle page: name a new thing, draw it 8 times or more, teach the doodle
model, try the 10-class model with its heat map, and download it.

Everything taught lives in this browser session (`st.session_state`): the drawings, the taught
model. The frozen doodle CNN is loaded afresh for each teaching, so no session shares it."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import downloads, widgets
from vision.heatmaps import enlarge, overlay_heatmap
from vision.errors import EmptyCanvasError, VisionLabError

EXAMPLES_KEY = "teach_examples"   # st.session_state: the 28x28 drawings of the new class
TAUGHT_KEY = "teach_model"        # st.session_state: the TaughtModel
REPORT_KEY = "teach_report"       # st.session_state: what was measured after teaching
ROUND_KEY = "teach_pad_round"     # st.session_state: a new canvas after each added drawing
BIG = 240


@st.cache_data(show_spinner="Reading the Quick, Draw! test doodles...", max_entries=1)
def _test_features() -> tuple[np.ndarray, np.ndarray] | None:
    """Features of the doodle test split, computed once per server (dataset-derived, the same
    for every user), or None when the dataset is not on this machine."""
    from vision import data, teach
    from vision.models import load_model

    if data.quickdraw_dir() is None:
        return None
    images, labels = data.load_doodle_arrays()
    rows = data.doodle_test_indices()
    extractor = teach.feature_model(load_model(teach.BASE_MODEL))
    return teach.features(extractor, images[rows]), labels[rows].astype(np.int64)


def _add_current_drawing(rgba) -> None:
    from vision.preprocess import preprocess

    try:
        doodle = preprocess("doodle", rgba).model_input[..., 0].astype(np.uint8)
    except EmptyCanvasError:
        st.toast("The canvas is empty: draw first.", icon=":material/draw:")
        return
    st.session_state.setdefault(EXAMPLES_KEY, []).append(doodle)
    # a fresh, empty canvas for the next example
    st.session_state[ROUND_KEY] = st.session_state.get(ROUND_KEY, 0) + 1
    st.session_state.pop(widgets.DRAWING_JSON_KEY, None)
    st.session_state.pop(widgets.DRAWING_KEY, None)


@st.fragment
def _example_pad(name: str) -> None:
    """A canvas for the examples; the button adds the drawing and starts a blank canvas."""
    rgba = widgets.drawing(f"teach_pad_{st.session_state.get(ROUND_KEY, 0)}", side=240)
    if st.button(f"Add this drawing of {name or 'the new thing'}", key="teach_add",
                 icon=":material/add:", disabled=rgba is None):
        _add_current_drawing(rgba)
        st.rerun(scope="app")


def _teach(name: str, examples: list) -> None:
    from vision import teach
    from vision.models import load_model

    with st.status(f"Teaching the model what a {name} is...", expanded=True) as status:
        st.write("Loading the doodle CNN (frozen)...")
        base = load_model(teach.BASE_MODEL)
        st.write(f"Training the new head on {len(examples)} drawings, each varied "
                 f"{teach.AUGMENTED_PER_EXAMPLE} times...")
        taught = teach.teach(base, name, examples)
        st.write("Checking it on each of your drawings held back in turn...")
        recognised, total = teach.leave_one_out(base, examples)
        report = {"recognised": recognised, "total": total, "seconds": taught.seconds}
        test = _test_features()
        if test is not None:
            st.write("Checking the old classes on the Quick, Draw! test doodles...")
            features, labels = test
            old_kernel, old_bias = base.get_layer("logits").get_weights()
            kernel, bias = taught.model.get_layer("logits").get_weights()
            report["before"] = teach.accuracy(features, labels, old_kernel, old_bias)
            report["after"] = teach.accuracy(features, labels, kernel, bias)
            report["test_size"] = len(labels)
        status.update(label=f"Taught in {taught.seconds:.1f} s", state="complete", expanded=False)
    st.session_state[TAUGHT_KEY] = taught
    st.session_state[REPORT_KEY] = report


def _report(taught, report: dict) -> None:
    recognised, total = report["recognised"], report["total"]
    columns = st.columns(2)
    columns[0].metric(f"{taught.new_class}: your drawings recognised", f"{recognised} of {total}",
                      help="Each drawing held back from teaching in turn, then shown to the model.")
    if "before" in report:
        columns[1].metric("Old classes on their test doodles", f"{report['after']:.1%}",
                          delta=f"{(report['after'] - report['before']) * 100:+.1f} points",
                          help=f"{report['test_size']} Quick, Draw! test doodles: "
                               f"{report['before']:.1%} before teaching.")
    else:
        columns[1].caption("The old classes' test doodles are not on this machine, so how well "
                           "they survive is not measured here.")


@st.fragment
def _try_it(taught) -> None:
    """A canvas and the 10-class guess after every stroke, with CAM for the guessed class."""
    from vision.explain import CAM
    from vision.preprocess import preprocess
    from vision.teach import CAM_LAYER

    pad, results = st.columns(2, gap="large")
    with pad:
        rgba = widgets.drawing("teach_try_pad", side=280)
    with results:
        if rgba is None:
            st.info(f"Draw a {taught.new_class} or one of the old things here.",
                    icon=":material/draw:")
            return
        try:
            prepared = preprocess("doodle", rgba)
        except EmptyCanvasError as err:
            st.info(str(err), icon=":material/draw:")
            return
        except VisionLabError as err:
            widgets.show_error(err)
            return
        explainer = st.session_state.get("teach_explainer")
        if explainer is None or explainer.model is not taught.model:
            explainer = st.session_state["teach_explainer"] = CAM(taught.model, CAM_LAYER)
        image = prepared.model_input
        probabilities = np.asarray(taught.model(image[None], training=False))[0]
        top = int(np.argmax(probabilities))
        with st.container(key="teach_top1"):  # "top1" is the Doodle canvas's own guess
            st.subheader(widgets.prediction_text(taught.labels[top], float(probabilities[top])),
                         anchor=False)
        widgets.show_top_k(taught.labels, probabilities, key="teach_k")
        explanation = explainer.explain(image, top)
        overlay = overlay_heatmap(enlarge(image[..., 0].astype(np.uint8), BIG),
                                  explanation.heatmap, 0.5)
        st.image(overlay, caption=f"CAM for {taught.labels[top]}", width=BIG)
        downloads.heatmap_downloads(overlay, taught.labels, probabilities, "teach_download",
                                    f"doodle_{taught.labels[top]}")


def add_a_class(spec=None) -> None:
    """The "Add a class" section (the Doodle page calls it below its canvas)."""
    from vision import teach

    st.divider()
    st.markdown("### Add a class")
    st.markdown(f"Teach the model a new thing: name it, draw it at least {teach.MIN_EXAMPLES} "
                "times, and press *Teach*. Only a new last layer is trained, in a few seconds, on "
                "what the frozen network already sees; the old classes keep their own.")
    name = st.text_input("The new thing", key="teach_name", placeholder="house", max_chars=30)
    examples = st.session_state.setdefault(EXAMPLES_KEY, [])
    pad, gallery = st.columns(2, gap="large")
    with pad:
        _example_pad(name.strip())
    with gallery:
        st.markdown(f"**{len(examples)} drawing{'s' if len(examples) != 1 else ''}** "
                    f"(at least {teach.MIN_EXAMPLES})")
        if examples:
            st.image([enlarge(255 - e, 56) for e in examples[-16:]], width=56)
            undo, clear = st.columns(2)
            if undo.button("Remove the last", key="teach_undo", icon=":material/undo:"):
                examples.pop()
                st.rerun()
            if clear.button("Start again", key="teach_clear", icon=":material/delete:"):
                examples.clear()
                st.session_state.pop(TAUGHT_KEY, None)
                st.session_state.pop(REPORT_KEY, None)
                st.rerun()
        if st.button("Teach", key="teach_go", type="primary", icon=":material/school:",
                     disabled=len(examples) < teach.MIN_EXAMPLES or not name.strip()):
            try:
                _teach(name, list(examples))
            except VisionLabError as err:
                widgets.show_error(err)

    taught = st.session_state.get(TAUGHT_KEY)
    if taught is None:
        return
    st.markdown(f"**Your {len(taught.labels)}-class model** ({', '.join(taught.labels)})")
    _report(taught, st.session_state.get(REPORT_KEY, {"recognised": 0, "total": 0}))
    _try_it(taught)
    from vision.user_models import keras_bytes

    model_file, labels_file = st.columns(2)
    model_file.download_button(
        "Download the model (.keras)", lambda: keras_bytes(taught.model),
        f"doodle_{downloads._slug(taught.new_class)}.keras", "application/octet-stream",
        key="teach_model_download", on_click="ignore", icon=":material/download:",
        help="Loads with plain Keras (keras.saving.load_model) and on the Your model page.")
    labels_file.download_button(
        "Download its class names (.txt)", "\n".join(taught.labels) + "\n",
        f"doodle_{downloads._slug(taught.new_class)}_labels.txt", "text/plain",
        key="teach_labels_download", on_click="ignore", icon=":material/download:")
