"""Fashion: a clothing photo or a Fashion-MNIST test image, the model's guess, where it looked
(CAM / Grad-CAM) and the 28x28 picture it actually receives."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import downloads, loaders, widgets
from vision.heatmaps import enlarge, fit_for_display, overlay_heatmap
from vision.novelty import unfamiliar_message
from vision.photo_confidence import out_of_depth

DATASET = "fashion_mnist"
BIG = 280  # the 28x28 input is shown ten times larger, with crisp pixels
CONTRAST_CLASS = "Shirt"  # the class the Fashion models confuse most with the others


def show_heatmaps(spec, prepared, probabilities, image_signature, from_photo: bool) -> None:
    """The class picker, "why not Shirt?", the opacity slider and the heat map over the input
    (and the crop)."""
    labels = spec.labels
    class_index = widgets.class_choice(
        labels, probabilities, key="fashion_class", signature=image_signature,
        label="Explain the class (why not Shirt?)")
    against = labels.index(CONTRAST_CLASS)
    contrast = class_index != against and st.toggle(
        f"Why {labels[class_index]} and not {CONTRAST_CLASS}?", key="fashion_contrast",
        help=f"Shirts are the class the models confuse most. On: the map shows where the image "
             f"looks more like {labels[class_index]} than like a {CONTRAST_CLASS} (the score "
             f"{labels[class_index]} minus {CONTRAST_CLASS}).")
    alpha = widgets.opacity("fashion_opacity")
    explanation = loaders.explanation(spec.name, prepared.model_input, class_index,
                                      against=against if contrast else None)
    what = f"{labels[class_index]} against {CONTRAST_CLASS}" if contrast else labels[class_index]
    input28 = prepared.model_input[..., 0].astype(np.uint8)
    crop = next((step.image for step in prepared.steps if step.name == "cropped"), None)
    pictures = st.columns(2 if from_photo and crop is not None else 1)
    overlay = overlay_heatmap(enlarge(input28, BIG), explanation.heatmap, alpha)  # drawn once
    pictures[0].image(overlay, caption=f"{explanation.method} for {what} on the 28x28 input")
    downloads.heatmap_downloads(overlay, labels, probabilities, "fashion_download",
                                f"{what}_{explanation.method}")
    if len(pictures) > 1:
        heat = prepared.heatmap_on_crop(explanation.heatmap, crop.shape[:2])
        pictures[1].image(overlay_heatmap(fit_for_display(crop, BIG), heat, alpha),
                          caption="The same heat map over the cropped photo")
    if not explanation.heatmap.any():
        st.caption(f"The map is blank: nothing in this image counts as evidence for {what}.")
    elif contrast:
        st.caption(f"Red: the pixels that make it a {labels[class_index]} rather than a "
                   f"{CONTRAST_CLASS}; blue: none.")
    else:
        st.caption("Red: the pixels that raised this class's score the most; blue: none.")
        top = int(np.argmax(probabilities))
        st.caption(widgets.evidence_note(
            explanation, loaders.explanation(spec.name, prepared.model_input, top), labels))


def show_what_the_model_sees(prepared, is_sample: bool) -> None:
    st.subheader("What the model sees", anchor=False)
    if is_sample:
        st.caption("A Fashion-MNIST test image is already what the model takes: 28x28 grey "
                   "pixels, a light item on black.")
    else:
        st.caption("Your photo becomes a Fashion-MNIST image: the garment is separated from its "
                   "background (the mask, found by GrabCut), its grey levels are negated as "
                   "Fashion-MNIST's were (light on black), and it is cropped to the item and "
                   "shrunk to 28x28 pixels.")
    steps = prepared.steps
    if len(steps) == 1:  # a dataset sample: one 28x28 picture, shown at the heat map's size
        st.image(enlarge(steps[0].image, BIG), caption=steps[0].name, width=BIG)
        return
    widgets.show_steps(steps, 140)


st.title("Fashion", anchor=False)
st.markdown("Show a model a piece of clothing and see what it guesses, and where it looked.")

page = widgets.page_input(
    DATASET, key="fashion", icon=":material/checkroom:",
    prompt="Upload a photo of one piece of clothing on a plain background, or pick a sample.")
spec, image, prepared = page.spec, page.image, page.prepared

probabilities = loaders.probabilities(spec.name, prepared.model_input)
image_signature = widgets.signature(spec.name, prepared.model_input)

numbers, picture = st.columns(2, gap="large")  # on a narrow window: the guess first
with numbers:
    widgets.show_guess(page, probabilities, key="fashion_k")
    # Said next to the guess: how the photo was read, and when not to trust the answer.
    note = getattr(prepared, "note", None)
    if note is not None:
        st.info(note.message, icon=":material/info:")
    doubt = out_of_depth(probabilities, spec.labels)
    if doubt is None and loaders.unfamiliar(spec.name, prepared.model_input):
        doubt = unfamiliar_message(spec.labels[int(np.argmax(probabilities))])
    if doubt is not None:
        with st.container(key="out_of_depth"):
            st.warning(doubt, icon=":material/help:")
with picture:
    st.markdown("**Where the model looked**")
    if spec.cam_layer is None:
        st.info(f"{spec.title} has no convolutional layers, so there is no heat map: it reads the "
                "784 pixels as one long list and keeps no notion of where things are. Pick a CNN "
                "to see where it looks.", icon=":material/grid_off:")
        st.image(enlarge(prepared.model_input[..., 0].astype(np.uint8), BIG),
                 caption="The 28x28 input")
    else:
        show_heatmaps(spec, prepared, probabilities, image_signature,
                      from_photo=not image.is_dataset_sample)

st.divider()
show_what_the_model_sees(prepared, image.is_dataset_sample)
