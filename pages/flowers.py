"""Flowers: a flower photo, five classes, and where the network looked, layer by layer."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import loaders, widgets
from vision.errors import VisionLabError
from vision.explain import overlay_heatmap
from vision.preprocess import preprocess
from vision.registry import models_for_dataset

DATASET = "flowers"

st.title("Flowers", anchor=False)
st.markdown(
    "**Transfer learning:** MobileNetV2 first learned to see edges, textures and shapes from "
    "1.2 million ImageNet photos, so only a new last layer (and a light fine-tuning of its top "
    "blocks) had to be trained on a few thousand flower photos. Switch to the CNN trained from "
    "scratch on the same photos to see what that head start is worth.")

settings = st.columns([3, 2])
with settings[0]:
    image = widgets.chosen_image(DATASET, key="flowers")
with settings[1]:
    spec = widgets.model_choice(models_for_dataset(DATASET), key="flowers_model",
                                default="flowers_mobilenet")
    st.caption(spec.description)

if widgets.loaded_predictor(spec) is None:  # weights missing: the warning says what to do
    st.stop()
if image is None:
    st.info("Upload a photo of a daisy, dandelion, rose, sunflower or tulip.",
            icon=":material/local_florist:")
    st.stop()
try:
    prepared = preprocess(spec.preprocessing, image.pixels)
except VisionLabError as err:
    widgets.show_error(err)
    st.stop()

probabilities = loaders.probabilities(spec.name, prepared.model_input)
top = int(np.argmax(probabilities))
photo = prepared.model_input.astype(np.uint8)  # the 224x224 centre crop the model sees

numbers, picture = st.columns(2, gap="large")  # on a narrow window: the guess first
with numbers:
    widgets.show_top1(spec.labels[top], float(probabilities[top]))
    if image.true_label:
        verdict = "right" if image.true_label == spec.labels[top] else "wrong"
        st.caption(f"True class: **{image.true_label}** (the model is {verdict}) · {spec.title}")
    else:
        st.caption(f"Guessed by {spec.title}")
    widgets.show_top_k(spec.labels, probabilities, key="flowers_k")
    layers = loaders.conv_layers(spec.name)
    layer = st.selectbox(
        "Layer to explain", layers, index=layers.index(spec.cam_layer),
        key=f"flowers_layer_{spec.name}",
        help="Early layers see edges and colours in small patches; the last block sees whole "
             "flowers. The default is the last convolutional block.")
    class_index = widgets.class_choice(
        spec.labels, probabilities, key="flowers_class",
        signature=widgets.signature(spec.name, prepared.model_input))
    alpha = widgets.opacity("flowers_opacity")
with picture:
    explanation = loaders.explanation(spec.name, prepared.model_input, class_index, layer)
    st.image(overlay_heatmap(photo, explanation.heatmap, alpha), width="stretch",
             caption=f"{loaders.method_name(spec.name, layer)} for {spec.labels[class_index]} "
                     f"on layer {layer}")
    if not explanation.heatmap.any():
        st.caption(f"The map is blank: nothing in this layer counts as evidence for "
                   f"{spec.labels[class_index]}.")
    with st.expander("What the model sees"):
        for column, step in zip(st.columns(len(prepared.steps)), prepared.steps):
            column.image(step.image, caption=step.name, width="stretch")
