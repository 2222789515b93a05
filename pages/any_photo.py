"""Any photo: the 1000 ImageNet classes, and "lion or dhole?" - where the network finds the
evidence for one class and for another in the same photo."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import downloads, loaders, widgets
from vision.heatmaps import overlay_heatmap

DATASET = "imagenet"
TOP = 5
# What ImageNet models say for the flowers they have no class for (rose, tulip, dandelion...):
# when one of these is among the guesses, the page says that ImageNet has no such class.
FLOWER_STAND_INS = {"hip", "strawberry", "daisy", "pot", "vase", "yellow lady's slipper",
                    "rapeseed", "cardoon", "bee", "sea anemone", "artichoke", "buckeye"}

st.title("Any photo", anchor=False)
st.markdown("MobileNet was trained on 1.2 million photos of 1000 kinds of things: animals, "
            "objects, food, vehicles. Show it any photo and see its five best guesses, and "
            "where in the photo it found the evidence for each.")

page = widgets.page_input(DATASET, key="photo", icon=":material/photo_camera:",
                          prompt="Upload a photo of anything: an animal, an object, a meal...")
spec, prepared = page.spec, page.prepared

probabilities = loaders.probabilities(spec.name, prepared.model_input)
best = [int(i) for i in np.argsort(-probabilities, kind="stable")[:TOP]]
photo = prepared.model_input.astype(np.uint8)
image_signature = widgets.signature(spec.name, prepared.model_input)
method = loaders.method_name(spec.name)


def heatmap_image(class_index: int, alpha: float) -> np.ndarray:
    explanation = loaders.explanation(spec.name, prepared.model_input, class_index)
    return overlay_heatmap(photo, explanation.heatmap, alpha)


def strength(class_index: int) -> str:
    """How strong the evidence behind a map is: each map is scaled to its own peak, so a class
    at 0.0% would look as red as the top guess without it."""
    return widgets.evidence_note(loaders.explanation(spec.name, prepared.model_input, class_index),
                                 loaders.explanation(spec.name, prepared.model_input, best[0]),
                                 spec.labels)


numbers, picture = st.columns(2, gap="large")  # on a narrow window: the guess first
with numbers:
    widgets.show_top1(spec.labels[best[0]], float(probabilities[best[0]]))
    st.caption(f"Top {TOP} of {spec.num_classes} classes · {spec.title}")
    widgets.show_top_k(spec.labels, probabilities, key="photo_k", k=TOP)
    if FLOWER_STAND_INS & {spec.labels[i] for i in best}:
        st.info("ImageNet's 1000 classes have only one flower, the daisy: no rose, tulip, "
                "dandelion or sunflower. A rose often comes out as *hip* or *strawberry*. The "
                "**Flowers** page has a model trained on five kinds of flowers.",
                icon=":material/local_florist:")
    class_index = widgets.class_choice(spec.labels, probabilities, key="photo_class",
                                       signature=image_signature, candidates=best)
    alpha = widgets.opacity("photo_opacity")
with picture:
    overlay = heatmap_image(class_index, alpha)  # drawn once: shown and downloaded
    st.image(overlay, width="stretch",
             caption=f"{method}: where it sees {spec.labels[class_index]}")
    st.caption(strength(class_index))
    downloads.heatmap_downloads(overlay, spec.labels, probabilities, "photo_download",
                                spec.labels[class_index])

st.divider()
st.subheader("Lion or dhole?", anchor=False)
st.markdown("The same photo, two classes: each heat map shows the evidence for its class only. "
            "When the network hesitates between two guesses, it often looks at different parts.")
for rank, column in enumerate(st.columns(2)):
    with column:
        chosen = widgets.class_choice(spec.labels, probabilities, key=f"photo_compare_{rank}",
                                      signature=image_signature, candidates=best,
                                      label="Class", default_rank=rank)
        st.image(heatmap_image(chosen, alpha), width="stretch",
                 caption=f"{spec.labels[chosen]} ({probabilities[chosen]:.1%})")
        st.caption(strength(chosen))
