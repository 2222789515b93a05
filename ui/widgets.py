"""Shared widgets. Each is named for what it returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from ui import loaders
from vision.errors import VisionLabError
from vision.images import decode_image

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp"]
SAMPLES_PER_FLOWER = 4


@dataclass(frozen=True)
class InputImage:
    """A picture chosen by the user, before any model-specific preprocessing."""

    pixels: np.ndarray  # uint8 RGB (H, W, 3), or a 28x28 dataset image (H, W)
    caption: str
    is_dataset_sample: bool = False  # already in the dataset's own format: no preprocessing
    true_label: str | None = None


def show_error(err: Exception) -> None:
    """A short message in plain words; never a traceback."""
    if isinstance(err, VisionLabError):
        st.error(str(err), icon=":material/error:")
    else:
        st.error("Something went wrong with this image. Try another one.", icon=":material/error:")


def uploaded_image(key: str, label: str = "Upload a photo") -> InputImage | None:
    """A decoded upload, or None (nothing uploaded yet, or a bad file: the error is shown)."""
    upload = st.file_uploader(label, type=UPLOAD_TYPES, key=key)
    if upload is None:
        return None
    try:
        return InputImage(decode_image(upload.getvalue()), upload.name)
    except VisionLabError as err:
        show_error(err)
        return None


@st.cache_data(show_spinner=False)
def flower_samples() -> list[tuple[np.ndarray, str, str]] | None:
    """A few test photos per flower class as (pixels, caption, label), or None without the data."""
    from vision import data

    if data.flowers_dir() is None:
        return None
    test = data.flower_file_splits()["test"]
    samples = []
    for index, name in enumerate(data.FLOWER_CLASSES):
        for file in [f for f, y in zip(test.files, test.y) if y == index][:SAMPLES_PER_FLOWER]:
            samples.append((data.load_flower_image(file), file.split("/")[-1], name))
    return samples


def _samples(dataset: str) -> list[tuple[np.ndarray, str, str]] | None:
    if dataset == "fashion_mnist":
        shipped = loaders.fashion_samples()
        if shipped is None:
            return None
        from vision.data import FASHION_CLASSES

        images, labels = shipped
        return [(image, f"test image {i}", FASHION_CLASSES[y]) for i, (image, y) in enumerate(zip(images, labels))]
    if dataset in ("flowers", "imagenet"):
        return flower_samples()
    return None


def chosen_image(dataset: str, key: str) -> InputImage | None:
    """The image to work on: an upload, a sample from a gallery, or a surprise sample.

    Fashion samples are shipped with the weights; flower samples appear when the flower data is
    on this machine, otherwise the page invites an upload.
    """
    samples = _samples(dataset)
    sources = ["Upload a photo"] + (["Pick a sample", "Surprise me"] if samples else [])
    source = st.radio("Image", sources, horizontal=True, key=f"{key}_source",
                      label_visibility="collapsed")
    if source == "Upload a photo":
        if not samples and dataset in ("flowers", "imagenet"):
            st.caption("Sample photos appear here when the flower dataset is on this machine "
                       "(`$VISION_LAB_DATA/flowers`).")
        return uploaded_image(f"{key}_upload")
    if source == "Surprise me":
        if st.button("Another one", key=f"{key}_surprise", icon=":material/casino:") or \
                f"{key}_surprise_index" not in st.session_state:
            st.session_state[f"{key}_surprise_index"] = int(np.random.default_rng().integers(len(samples)))
        index = st.session_state[f"{key}_surprise_index"] % len(samples)
    else:
        index = st.selectbox(
            "Sample", range(len(samples)), key=f"{key}_sample",
            format_func=lambda i: f"{samples[i][2]} ({samples[i][1]})")
    pixels, caption, label = samples[index]
    return InputImage(pixels, caption, is_dataset_sample=pixels.ndim == 2, true_label=label)
