"""Home: what Vision Lab is, and a card per model with its figures from training."""

import streamlit as st

from ui import loaders
from vision.registry import MODELS, get_dataset

st.title("Vision Lab")
st.markdown(
    "See what a convolutional network sees. Upload a clothing photo, a flower or any photo, or "
    "draw a doodle, and watch the models guess: the prediction, the probability of every class, "
    "the **heat map** of where the network looked (CAM / Grad-CAM), the small picture the model "
    "actually receives, and the activations of every layer. Then study how each model was "
    "trained and where it goes wrong."
)

def compact_count(n: int) -> str:
    """A parameter count that fits a third of the page: 109,386 -> "109k", 2,263,109 -> "2.26M"."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.2f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    return f"{n:,}"


def show_loading(state) -> None:
    """How far the background loading of the models is; the page reruns once they are ready."""
    done = len(state.ready) + len(state.failed)
    if state.finished:
        st.rerun()
    current = registry_title(state.current) if state.current else "starting"
    st.progress(done / max(1, len(state.names)),
                text=f"Getting the models ready in the background: {done} of {len(state.names)} "
                     f"loaded ({current}...). You can start now: a page whose model is not ready "
                     "yet loads it when you open it.")


def registry_title(name: str) -> str:
    return MODELS[name].title if name in MODELS else name


state = loaders.preloading()
if state is not None and not state.finished:
    st.fragment(show_loading, run_every=1.0)(state)

columns = st.columns(3)
for index, spec in enumerate(MODELS.values()):
    with columns[index % 3].container(border=True):
        picture, words = st.columns([1, 3])
        thumb = loaders.cover(spec.dataset)
        if thumb is not None:
            picture.image(thumb, width=72)
        words.subheader(spec.title, anchor=False)
        words.caption(f"{get_dataset(spec.dataset).title} · {spec.num_classes} classes")
        st.write(spec.description)
        facts = loaders.metrics(spec.name)
        if facts:
            left, right = st.columns(2)
            left.metric("Test accuracy", f"{facts['test']['accuracy']:.1%}")
            right.metric("Parameters", compact_count(int(facts["parameters"])),
                         help=f"{facts['parameters']:,} weights")
        elif spec.trained_here:
            st.warning(f"Not trained yet: run `python -m vision.train {spec.name}`.")
        else:
            st.caption("Pretrained on ImageNet and used as it is (Keras reports 70.4% top-1).")
        st.page_link(get_dataset(spec.dataset).page, label="Try it", icon=":material/arrow_forward:")

st.divider()
st.markdown(
    "**Study the models:** the *Model report* shows training curves and a confusion matrix you can "
    "click into, the *Mistakes map* clusters the errors, *Compare models* runs one input through "
    "several models, the *Playground* perturbs an image live, and *How a CNN works* walks through "
    "convolution, ReLU and pooling step by step."
)
