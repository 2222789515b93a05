"""Your model: upload a Keras classifier, see what it guesses on a photo, a sample or a drawing,
where it looks (Grad-CAM on any layer, for any class) and the feature maps of every layer.

The model is checked as a hostile file before it is loaded (vision.user_models) and lives only
in this browser session (ui.user_model)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import downloads, user_model, widgets
from ui.charts import colourise
from vision.errors import EmptyCanvasError, VisionLabError
from vision.heatmaps import enlarge, normalise_maps, overlay_heatmap, tile_maps
from vision.registry import get_dataset
from vision.user_models import INPUT_KINDS, MAX_FILE_BYTES, PIXEL_SCALES, dataset_for_kind
BIG = 280
MAX_LAYERS_SHOWN = 8


def show_summary(model) -> None:
    height, width, channels = model.input_shape
    shape, classes, parameters, speed = st.columns(4)
    shape.metric("Input", f"{height}x{width}x{channels}")
    classes.metric("Classes", model.num_classes)
    parameters.metric("Parameters", f"{model.parameters:,}")
    speed.metric("One prediction", f"{model.predict_seconds * 1000:.0f} ms")
    ending = ("ends in a softmax: the heat maps explain the score before it" if model.ends_in_softmax
              else "outputs logits: the heat maps explain them, the probabilities are their softmax")
    st.caption(f"**{model.file_name}** {ending}.")
    with st.expander(f"Layers ({len(model.rows)})"):
        st.dataframe([{"layer": r.name, "type": r.kind, "output shape": r.output_shape,
                       "parameters": r.parameters} for r in model.rows],
                     hide_index=True, key="your_model_summary")


def input_settings(model) -> str:
    """What the model expects: the kind of picture, and the pixel scale unless it has its own."""
    kinds = list(INPUT_KINDS)
    kind = st.radio("What the model looks at", kinds, format_func=INPUT_KINDS.get,
                    index=kinds.index(model.suggested_kind), key="your_model_kind")
    if model.rescaling is None:
        model.pixel_scale = st.radio(
            "Pixel values the model was trained on", list(PIXEL_SCALES), horizontal=True,
            key="your_model_scale", help="How the training images were scaled: 0-1 (divided "
            "by 255), 0-255 (raw), or -1..1 (as MobileNet). Wrong scale, wrong guesses.")
    else:
        st.caption(f"The model scales its pixels itself ({model.rescaling}): it is given raw "
                   "0-255 pixels.")
    return kind


def chosen_picture(kind: str):
    """An upload, a sample or (for doodles) a drawing made here: an InputImage, or None."""
    dataset = dataset_for_kind(kind)
    if get_dataset(dataset).drawn:
        pad, source = st.columns([1, 1])
        with pad:
            st.caption("Draw here (or on the Doodle page):")
            widgets.drawing("your_model_pad", side=240)
        with source:
            return widgets.chosen_image(dataset, key=f"your_model_{kind}")
    return widgets.chosen_image(dataset, key=f"your_model_{kind}")


def show_feature_maps(model, model_input: np.ndarray) -> None:
    if not model.has_feature_maps():
        st.info("This model has no convolution or pooling layer, so it has no feature maps.")
        return
    with st.spinner("Running the image through every layer..."):
        activations = model.activations(model_input)
    names = [layer.name for layer in activations]
    chosen = st.multiselect(f"Layers ({len(names)} conv and pooling layers)", names,
                            default=names[:MAX_LAYERS_SHOWN], key="your_model_layers")
    for layer in (layer for layer in activations if layer.name in chosen):
        height, width, channels = layer.shape
        st.markdown(f"**{layer.name}** · {'convolution' if layer.kind == 'conv' else 'pooling'}"
                    f" · output {height}×{width}×{channels}")
        grid = tile_maps(normalise_maps(layer.maps), pad_value=np.nan)
        st.image(colourise(enlarge(grid, 240)), width=480)


st.title("Your model", anchor=False)
st.markdown("Upload a Keras image classifier (a `.keras` file saved with "
            "`model.save('my_model.keras')`) and see what it sees. The file is checked before it "
            "is loaded, it stays in this browser tab only, and it is never saved on the server.")

files = st.columns([3, 2])
model_file = files[0].file_uploader(
    f"Your model (.keras, at most {MAX_FILE_BYTES // 2**20} MB)", type=["keras", "h5"],
    key="your_model_file", max_upload_size=MAX_FILE_BYTES // 2**20)  # larger: never sent
labels_file = files[1].file_uploader("Class names (optional): a text file, one name a line",
                                     type=["txt", "csv"], key="your_model_labels",
                                     max_upload_size=1)
try:
    model = user_model.session_model(model_file, labels_file)
except VisionLabError as err:
    widgets.show_error(err)
    st.stop()
if model is None:
    st.info("Upload a `.keras` model to start. Models taught on the Doodle page (Add a class) "
            "can be uploaded here too.", icon=":material/upload_file:")
    st.stop()

show_summary(model)
st.divider()
settings, picture_area = st.columns([2, 3], gap="large")
with settings:
    kind = input_settings(model)
with picture_area:
    image = chosen_picture(kind)
if image is None:
    st.info("Upload a picture, pick a sample or draw to see what your model makes of it.",
            icon=":material/image:")
    st.stop()
try:
    from vision.user_models import prepare_picture

    prepared = prepare_picture(kind, image.pixels, model.input_shape, image.is_dataset_sample)
except EmptyCanvasError as err:
    st.info(str(err), icon=":material/draw:")
    st.stop()
except VisionLabError as err:
    widgets.show_error(err)
    st.stop()

probabilities = model.probabilities(prepared.model_input)
shown = prepared.model_input.astype(np.uint8)
shown = shown[..., 0] if shown.shape[-1] == 1 else shown
shown = enlarge(shown, BIG) if max(shown.shape[:2]) < 100 else shown

numbers, heat = st.columns(2, gap="large")
with numbers:
    top = int(np.argmax(probabilities))
    widgets.show_top1(model.labels[top], float(probabilities[top]))
    if probabilities[top] < 0.5:
        st.caption(f"Unsure: {model.labels[top]} has less than half of the probability. The "
                   "picture may be unlike what the model was trained on (or the input settings "
                   "on the left may be wrong).")
    if image.true_label:
        st.caption(f"Sample labelled **{image.true_label}** in its dataset (your model's classes "
                   "may differ).")
    widgets.show_top_k(model.labels, probabilities, key="your_model_k")
layers = model.explainable_layers()
with heat:
    if model.nested_models:
        st.caption(f"{', '.join(model.nested_models)} is a whole model used as one layer: its "
                   "inner layers cannot be explained. Build it flat (keras.applications with "
                   "`input_tensor=`) to see them.")
    if not layers:
        st.info("This model has no layer with a spatial output, so there is no heat map.")
        st.image(shown, caption="What the model sees")
    else:
        layer = st.selectbox("Layer to explain", layers, index=len(layers) - 1,
                             key="your_model_layer", help="The last layers see whole objects, "
                             "the first ones edges and blobs.")
        class_index = widgets.class_choice(
            model.labels, probabilities, key="your_model_class",
            signature=widgets.signature(model.file_name, prepared.model_input))
        alpha = widgets.opacity("your_model_opacity")
        explanation = model.explain(prepared.model_input, class_index, layer)
        overlay = overlay_heatmap(shown, explanation.heatmap, alpha)
        with st.container(key="your_model_heatmap"):
            st.image(overlay, width="stretch",
                     caption=f"{model.method_name(layer)} for {model.labels[class_index]} "
                             f"on layer {layer}")
        if not explanation.heatmap.any():
            st.caption(f"The map is blank: nothing here counts as evidence for "
                       f"{model.labels[class_index]} in this layer.")
        downloads.heatmap_downloads(overlay, model.labels, probabilities, "your_model_download",
                                    f"{model.labels[class_index]}_{layer}")

with st.expander("What the model sees"):
    widgets.show_steps(prepared.steps)

st.subheader("Layers", anchor=False)
show_feature_maps(model, prepared.model_input)
