"""Shared widgets. Each is named for what it returns."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import streamlit as st

from ui import loaders
from ui.canvas import strokes_canvas
from ui.charts import top_k_bars
from vision.errors import EmptyCanvasError, VisionLabError
from vision.heatmaps import fit_for_display
from vision.images import decode_image, is_blank
from vision.registry import ModelSpec, get_dataset
from vision.strokes import render_strokes, strokes_at_side

if TYPE_CHECKING:
    from vision.preprocess import Preprocessed

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp"]
DRAWING_KEY = "doodle_canvas"            # st.session_state: the latest canvas, RGBA uint8
DRAWING_JSON_KEY = "doodle_canvas_json"  # st.session_state: its strokes, to draw them again
PICTURES_KEY = "canvas_pictures"  # st.session_state: each canvas's last strokes and their picture
KEPT_PICTURES = 4
# the image sources a picker offers
CURRENT_DRAWING, UPLOAD, UPLOAD_DRAWING = "Current drawing", "Upload a photo", "Upload a drawing"
SAMPLE, SURPRISE = "Pick a sample", "Surprise me"


@dataclass(frozen=True)
class InputImage:
    """A picture chosen by the user, before any model-specific preprocessing."""

    pixels: np.ndarray  # uint8 RGB (H, W, 3), or a 28x28 dataset image (H, W)
    caption: str
    is_dataset_sample: bool = False  # already in the dataset's own format: no preprocessing
    true_label: str | None = None
    uploaded: bool = False  # a file the user uploaded (not a sample, not the canvas)


def show_error(err: Exception) -> None:
    """A short message in plain words; never a traceback."""
    if isinstance(err, VisionLabError):
        st.error(str(err), icon=":material/error:")
    else:
        st.error("Something went wrong with this image. Try another one.", icon=":material/error:")


def uploaded_image(key: str, label: str = "Upload a photo") -> InputImage | None:
    """A decoded upload, or None (nothing uploaded yet, or a bad file: the error is shown).

    A file that cannot be read is dropped from the uploader (a fresh one replaces it, so no chip
    of a rejected file stays) and its error, naming the file, stays above the uploader until the
    next file: an error is never shown for a file it is not about."""
    generation = int(st.session_state.get(f"{key}__generation", 0))
    rejected_key = f"{key}__rejected"
    upload = st.file_uploader(label, type=UPLOAD_TYPES,
                              key=key if generation == 0 else f"{key}__{generation}")
    if upload is None:
        rejected = st.session_state.get(rejected_key)
        if rejected is not None:
            st.error(f"**{rejected[0]}** was not used: {rejected[1]}", icon=":material/error:")
        return None
    st.session_state.pop(rejected_key, None)
    try:
        return InputImage(_decoded(upload.getvalue()), upload.name, uploaded=True)
    except VisionLabError as err:
        st.session_state[rejected_key] = (upload.name, str(err))
        st.session_state[f"{key}__generation"] = generation + 1
        st.rerun()


@st.cache_data(show_spinner="Reading the photo...", max_entries=8)
def _decoded(data: bytes) -> np.ndarray:
    """Decoded once per upload: moving a slider must not decode a 12-megapixel photo again."""
    return decode_image(data)


def chosen_image(dataset: str, key: str, start_with_sample: bool = False) -> InputImage | None:
    """The image to work on: an upload, a sample from a gallery, a surprise sample, or (for
    doodles) the current drawing of the Doodle page. None until there is one.

    Samples come from the dataset when it is on this machine, else from what is shipped
    (`loaders.samples`); with neither (flowers on a bare clone) the page invites an upload. Doodles start from the current
    drawing when there is one; `start_with_sample` starts the other datasets from a sample.
    """
    spec = get_dataset(dataset)
    samples = loaders.samples(dataset)
    gallery = [SAMPLE, SURPRISE] if samples else []
    if spec.drawn:
        drawing = st.session_state.get(DRAWING_KEY)
        sources = ([CURRENT_DRAWING] if drawing is not None else []) + gallery + [UPLOAD_DRAWING]
    else:
        drawing = None
        sources = [UPLOAD] + gallery
        if start_with_sample and samples and f"{key}_source" not in st.session_state:
            st.session_state[f"{key}_source"] = SAMPLE
    source = st.radio("Image", sources, horizontal=True, key=f"{key}_source",
                      label_visibility="collapsed")
    if spec.drawn and drawing is None:
        st.caption("Draw something on the Doodle page and it appears here as *Current drawing*.")
    if source == CURRENT_DRAWING:
        return InputImage(np.asarray(drawing), "your drawing")
    if source in (UPLOAD, UPLOAD_DRAWING):
        if not samples and spec.source.samples_hint:
            st.caption(spec.source.samples_hint)
        return uploaded_image(f"{key}_upload", "Upload a drawing (dark ink on white)"
                              if source == UPLOAD_DRAWING else UPLOAD)
    if source == SURPRISE:
        if st.button("Another one", key=f"{key}_surprise", icon=":material/casino:") or \
                f"{key}_surprise_index" not in st.session_state:
            st.session_state[f"{key}_surprise_index"] = int(np.random.default_rng().integers(len(samples)))
        index = st.session_state[f"{key}_surprise_index"] % len(samples)
    else:
        index = st.selectbox(
            "Sample", range(len(samples)), key=f"{key}_sample",
            format_func=lambda i: f"{samples[i][2]} ({samples[i][1]})")
    pixels, caption, label = samples[index]
    # a photo shipped for any-photo models names what it shows, not one of the model's classes
    known = label if label in spec.labels else None
    return InputImage(pixels, caption, is_dataset_sample=pixels.ndim == 2, true_label=known)


BLANK_MESSAGE = ("**{name}** is blank (one flat colour, or fully transparent): there is nothing "
                 "here for a model to recognise, so no guess is shown. Try a picture of something.")


def stop_if_blank(image: InputImage) -> None:
    """Stops the page with a "nothing here" note for an uploaded picture that holds nothing,
    instead of a confident-looking guess on a blank."""
    if image.uploaded and is_blank(image.pixels):
        show_placeholder_top1("Nothing here")
        st.info(BLANK_MESSAGE.format(name=image.caption), icon=":material/hide_image:")
        st.stop()


# ---------------------------------------------------------------- models and predictions
def model_choice(specs: Sequence[ModelSpec], key: str, default: str | None = None,
                 label: str = "Model", as_list: bool = False) -> ModelSpec:
    """The model the user picked. The preselected one is `default` when its weights are here,
    else the first model whose weights are here. `as_list`: a drop-down list instead of a row of
    buttons (many models would wrap into a jumble)."""
    specs = list(specs)
    names = [spec.name for spec in specs]
    ready = [spec.name for spec in specs if spec.weights_available]
    preferred = default if default in ready else (ready[0] if ready else names[0])
    by_name = {spec.name: spec for spec in specs}
    if as_list:
        name = st.selectbox(label, names, index=names.index(preferred), key=key,
                            format_func=lambda n: by_name[n].title)
    else:
        name = st.radio(label, names, index=names.index(preferred), key=key, horizontal=True,
                        format_func=lambda n: by_name[n].title)
    return by_name[name]


def not_trained_message(spec: ModelSpec) -> str:
    """What to say about a model whose weights are missing."""
    return (f"{spec.title} is not trained yet: its weights are missing. "
            f"Train it with `python -m vision.train {spec.name}`.")


def loaded_predictor(spec: ModelSpec):
    """The cached predictor of a model, or None with a warning (weights missing or unreadable)."""
    try:
        return loaders.predictor(spec.name)
    except VisionLabError as err:
        st.warning(str(err), icon=":material/warning:")
        return None


@dataclass(frozen=True)
class PageInput:
    """What a prediction page works on: the model, the user's image and the model-ready input."""

    spec: ModelSpec
    image: InputImage
    prepared: "Preprocessed"


def prepared_input(image: InputImage, preprocessing: str) -> "Preprocessed":
    """What a model takes for this picture: dataset samples as they are, the rest preprocessed.
    Raises a VisionLabError (plain message) when the picture cannot be used."""
    from vision.preprocess import dataset_image_input, preprocess

    if image.is_dataset_sample:
        return dataset_image_input(image.pixels)
    return preprocess(preprocessing, image.pixels)


def page_image(dataset: str, key: str, prompt: str, icon: str | None = None,
               start_with_sample: bool = False) -> InputImage:
    """The image source of a page (`chosen_image`); stops the page with `prompt` until there is
    an image."""
    image = chosen_image(dataset, key=key, start_with_sample=start_with_sample)
    if image is None:
        st.info(prompt, icon=icon)
        st.stop()
    stop_if_blank(image)
    return image


def page_input(dataset: str | None, key: str, prompt: str, icon: str, spec: ModelSpec | None = None,
               where=None, start_with_sample: bool = False) -> PageInput:
    """The input of a prediction page: the image source and the model (a picker on the right of
    the image source, or `spec` when the page chose it), the model loaded and the image
    preprocessed. `where` is the container of the image source when the page lays it out itself.

    Stops the page with a plain message when there is nothing to predict yet: weights missing, no
    image, or an image that cannot be used (an empty drawing invites one).
    """
    if spec is None:
        source, model = st.columns([3, 2])
        with model:
            specs = get_dataset(dataset).models
            spec = model_choice(specs, key=f"{key}_model",
                                default=get_dataset(dataset).default_model) \
                if len(specs) > 1 else specs[0]
            st.caption(spec.description)
    else:
        source = where if where is not None else st.container()
    with source:
        image = chosen_image(dataset or spec.dataset, key=key, start_with_sample=start_with_sample)
    if loaded_predictor(spec) is None:  # weights missing: the warning says what to do
        st.stop()
    if image is None:
        st.info(prompt, icon=icon)
        st.stop()
    stop_if_blank(image)
    try:
        with st.spinner("Preparing the photo..."):
            prepared = prepared_input(image, spec.preprocessing)
    except EmptyCanvasError as err:
        st.info(f"Draw something on the Doodle page first. {err}", icon=":material/draw:")
        st.stop()
    except VisionLabError as err:
        show_error(err)
        st.stop()
    return PageInput(spec, image, prepared)


def show_guess(page: PageInput, probabilities: np.ndarray, key: str) -> None:
    """The top-1 text, whether it is right (for a dataset sample), and the top-k bars."""
    labels, top = page.spec.labels, int(np.argmax(probabilities))
    show_top1(labels[top], float(probabilities[top]))
    if page.image.true_label:
        verdict = "right" if page.image.true_label == labels[top] else "wrong"
        st.caption(f"True class: **{page.image.true_label}** (the model is {verdict}) · "
                   f"{page.spec.title}")
    else:
        st.caption(f"Guessed by {page.spec.title}")
    show_top_k(labels, probabilities, key=key)


def prediction_text(label: str, probability: float) -> str:
    """The top-1 prediction as every page writes it: "Sneaker - 97.3%"."""
    return f"{label} - {probability:.1%}"


def show_top1(label: str, probability: float) -> None:
    """The top-1 prediction as a subheader in the container keyed "top1" (CSS `.st-key-top1 h3`):
    the one element a browser test reads on every page."""
    with st.container(key="top1"):
        st.subheader(prediction_text(label, probability), anchor=False)


def show_placeholder_top1(text: str) -> None:
    """The top-1 slot when there is nothing to predict yet (e.g. "Draw something")."""
    with st.container(key="top1"):
        st.subheader(text, anchor=False)


def show_steps(steps, side: int = 112) -> None:
    """The preprocessing's steps (`vision.preprocess.Step`), side by side, each sized for a
    picture about `side` pixels wide (`vision.heatmaps.fit_for_display`)."""
    for column, step in zip(st.columns(len(steps)), steps):
        column.image(fit_for_display(step.image, side), caption=step.name, width="stretch")


def show_top_k(labels: Sequence[str], probabilities: np.ndarray, key: str,
               k: int | None = None) -> None:
    """Probability bars of the most probable classes. With more than 5 classes and no fixed `k`,
    a slider chooses how many (up to all of them)."""
    probabilities = np.asarray(probabilities, dtype=float)
    count = len(probabilities)
    if k is None:
        k = count if count <= 5 else st.slider(
            "Classes shown", 1, count, min(5, count), key=key,
            help="Slide to the right to see the probability of every class.")
    order = np.argsort(-probabilities, kind="stable")[:k]
    st.html(top_k_bars([labels[i] for i in order], probabilities[order]))


def class_choice(labels: Sequence[str], probabilities: np.ndarray, key: str, signature: str,
                 candidates: Sequence[int] | None = None, label: str = "Explain the class",
                 default_rank: int = 0) -> int:
    """A class index picked from `candidates` (default: all classes), listed most probable first.

    The choice goes back to the class of rank `default_rank` (0: the prediction) whenever
    `signature` (the image and model) changes, so a new image explains its own prediction.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    if candidates is None:
        candidates = np.argsort(-probabilities, kind="stable")
    options = [int(i) for i in candidates]
    if st.session_state.get(f"{key}__for") != signature or st.session_state.get(key) not in options:
        st.session_state[key] = options[min(default_rank, len(options) - 1)]
        st.session_state[f"{key}__for"] = signature
    return st.selectbox(label, options, key=key,
                        format_func=lambda i: f"{labels[i]} ({probabilities[i]:.1%})")


def layer_label(names: Sequence[str], name: str) -> str:
    """A layer as a student reads it: its stage in the network (early, middle or late: thirds of
    the layers with feature maps, input to output), its position, and the raw name as detail."""
    position = list(names).index(name)
    stage = ("Early", "Middle", "Late")[min(2, 3 * position // max(1, len(names)))]
    return f"{stage} · layer {position + 1} of {len(names)} ({name})"


WEAK_EVIDENCE = 0.01  # below this probability a class's map is faint evidence, however red


def evidence_note(explained, top, labels: Sequence[str]) -> str:
    """One line under a heat map on how strong its evidence is. Every map is scaled to its own
    peak, so the map of a class at 0.0% is as bright as the prediction's: the note gives the
    class's score (its logit) beside the top guess's, and says so plainly for a weak class.
    `explained` and `top` are `vision.explain.Explanation`s (the class shown, the top guess)."""
    if explained is None:
        return ""
    line = f"Score (logit) {explained.logit:.1f}"
    if top is not None and top.class_index != explained.class_index:
        line += f", against {top.logit:.1f} for the top guess, {labels[top.class_index]}"
    line += ". Each map is scaled to its own strongest spot."
    if explained.probability < WEAK_EVIDENCE:
        line = (f"**Weak evidence:** {labels[explained.class_index]} gets only "
                f"{explained.probability:.1%}, so even the red parts of this map count for "
                f"little. {line}")
    return line


def opacity(key: str) -> float:
    """The heat map's opacity over the image."""
    return st.slider("Heat map opacity", 0.0, 1.0, 0.5, 0.05, key=key)


def signature(*parts: object) -> str:
    """A short fingerprint of a model name and an image, to notice when either changes."""
    digest = hashlib.md5()
    for part in parts:
        digest.update(np.ascontiguousarray(part).tobytes() if isinstance(part, np.ndarray)
                      else str(part).encode())
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------- the drawing canvas
CANVAS_SIDE = 320


def _canvas_component(**kwargs) -> dict | None:
    """The browser canvas (ui/canvas.py): the strokes value it last sent, or None. The AppTest
    fakes replace this function."""
    return strokes_canvas(**kwargs)


def drawing(key: str, side: int = CANVAS_SIDE, remember: bool = True,
            pen: str = "medium", live: bool = False) -> np.ndarray | None:
    """A white square canvas with a black pen: the RGBA pixels (side, side, 4) after the latest
    stroke, or None while nothing has been drawn yet. `pen` is the toolbar's starting pen: a key
    of ui.canvas.PEN_WIDTHS, or "eraser" (a wide white pen: what it covers is paper again).

    Every stroke reruns the script (the fragment around it) with the new strokes, drawn here
    (vision.strokes). The latest drawing is kept in `st.session_state["doodle_canvas"]` (and
    its strokes in "doodle_canvas_json"), so other pages can use "the current drawing" and the
    canvas shows it again when the user comes back to this page. The canvas's toolbar has
    Undo, Clear and the pens.

    `remember` False: a canvas of its own (a game round), neither restored nor kept as the
    current drawing. `live` True: the canvas also sends the drawing while a stroke is drawn
    (ui.canvas.LIVE_MS), so the guess follows the pen.
    """
    initial_key = f"{key}__initial"
    if not remember:
        value = _canvas_component(key=key, side=side, pen=pen, initial=None, live=live)
        return None if value is None else _picture(key, value, side)
    if key not in st.session_state:  # the canvas is mounted (again): show the last drawing,
        last = st.session_state.get(DRAWING_JSON_KEY)  # maybe from a canvas of another size
        st.session_state[initial_key] = None if last is None else \
            {"side": side, "strokes": strokes_at_side(last, side)}  # read once, not every stroke
    initial = st.session_state.get(initial_key)
    value = _canvas_component(key=key, side=side, pen=pen, initial=initial, live=live)
    if value is not None:
        rgba = _picture(key, value, side)
        st.session_state[DRAWING_KEY] = rgba
        st.session_state[DRAWING_JSON_KEY] = value
        return rgba
    if st.session_state.get(initial_key) is not None:  # the restored drawing, not yet changed
        return st.session_state.get(DRAWING_KEY)
    return None


def _picture(key: str, value: dict, side: int) -> np.ndarray:
    """The pixels of a canvas value, drawn at the side the page asked for (scaled when the
    value's own `side` differs). The last picture of each canvas is kept with its strokes: a
    rerun with the same drawing (another widget changed, a fragment rerun) returns the same
    array and draws nothing, and a new stroke is painted over the kept picture. Drawing the strokes one by one or all at once gives the same
    pixels but for rounding (each stroke is painted over the one before either way)."""
    strokes = strokes_at_side(value, side)
    kept = st.session_state.setdefault(PICTURES_KEY, {})
    before, picture = kept.get(key, ([], None))
    if picture is not None and picture.shape[0] == side and before == strokes[:len(before)]:
        if len(before) == len(strokes):
            return picture
        rgba = render_strokes(strokes[len(before):], side, base=picture)  # only the new strokes
    else:  # Undo, Clear, another drawing: all of it again
        rgba = render_strokes(strokes, side)
    rgba.setflags(write=False)  # shared by the reruns that keep it: nobody may draw on it
    kept.pop(key, None)
    kept[key] = (strokes, rgba)
    while len(kept) > KEPT_PICTURES:  # a game makes a canvas per round: keep the latest few
        kept.pop(next(iter(kept)))
    return rgba
