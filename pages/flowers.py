"""Flowers: a flower photo, five classes, and where the network looked, layer by layer."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import downloads, loaders, widgets
from vision.heatmaps import overlay_heatmap

DATASET = "flowers"

st.title("Flowers", anchor=False)
st.markdown(
    "**Transfer learning:** MobileNetV2 first learned to see edges, textures and shapes from "
    "1.2 million ImageNet photos, so only a new last layer (and a light fine-tuning of its top "
    "blocks) had to be trained on a few thousand flower photos. Switch to the CNN trained from "
    "scratch on the same photos to see what that head start is worth.")

page = widgets.page_input(
    DATASET, key="flowers", icon=":material/local_florist:",
    prompt="Upload a photo of a daisy, dandelion, rose, sunflower or tulip.")
spec, prepared = page.spec, page.prepared

probabilities = loaders.probabilities(spec.name, prepared.model_input)
photo = prepared.model_input.astype(np.uint8)  # the 224x224 centre crop the model sees

numbers, picture = st.columns(2, gap="large")  # on a narrow window: the guess first
with numbers:
    widgets.show_guess(page, probabilities, key="flowers_k")
    layers = loaders.feature_map_layers(spec.name)
    layer = st.selectbox(
        "Layer to explain", layers, index=layers.index(spec.cam_layer),
        key=f"flowers_layer_{spec.name}", format_func=lambda n: widgets.layer_label(layers, n),
        help="Early layers see edges and colours in small patches; late ones see whole "
             "flowers. The default is the last convolutional block.")
    class_index = widgets.class_choice(
        spec.labels, probabilities, key="flowers_class",
        signature=widgets.signature(spec.name, prepared.model_input))
    alpha = widgets.opacity("flowers_opacity")
with picture:
    explanation = loaders.explanation(spec.name, prepared.model_input, class_index, layer)
    overlay = overlay_heatmap(photo, explanation.heatmap, alpha)  # drawn once: shown, downloaded
    st.image(overlay, width="stretch",
             caption=f"{loaders.method_name(spec.name, layer)} for {spec.labels[class_index]} "
                     f"on layer {layer}")
    downloads.heatmap_downloads(overlay, spec.labels, probabilities, "flowers_download",
                                f"{spec.labels[class_index]}_{layer}")
    if not explanation.heatmap.any():
        st.caption(f"The map is blank: nothing in this layer counts as evidence for "
                   f"{spec.labels[class_index]}.")
    else:
        top = int(np.argmax(probabilities))
        st.caption(widgets.evidence_note(
            explanation, loaders.explanation(spec.name, prepared.model_input, top, layer),
            spec.labels))
    with st.expander("What the model sees"):
        widgets.show_steps(prepared.steps, 140)
