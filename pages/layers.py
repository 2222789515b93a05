"""Layers: the feature maps of every conv and pooling layer of a CNN for one input, as grids,
with the shape of each layer and any single map enlarged."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import loaders, widgets
from ui.charts import colour_scale_bar, colourise
from vision.heatmaps import enlarge, normalise_maps, tile_maps
from vision.registry import MODELS

MAX_DEFAULT_LAYERS = 12  # more layers than this (MobileNet): start with a few, let the user pick
SCALE_NAMES = {
    "per_map": "Each map on its own",
    "per_layer": "Per layer",
    "shared": "Shared by all layers shown",
}
SCALE_HELP = ("Each map on its own: every map stretched to its own range, to see its pattern. "
              "Per layer: one range per layer, to see which maps are strong. Shared: one range for "
              "every layer shown, to compare layers.")


def default_layers(names: list[str]) -> list[str]:
    """All layers of a small model; six spread from the first to the last of a big one."""
    if len(names) <= MAX_DEFAULT_LAYERS:
        return names
    picks = np.linspace(0, len(names) - 1, 6).round().astype(int)
    return [names[i] for i in sorted(set(picks))]


def show_layer(spec, layer, scale: str, value_range) -> None:
    height, width, channels = layer.shape
    st.markdown(f"**{layer.name}** · {'convolution' if layer.kind == 'conv' else 'pooling'} · "
                f"output {height}×{width}×{channels}: {channels} maps of {height}×{width} pixels")
    maps01 = normalise_maps(layer.maps, scale, value_range)
    grid_column, big_column = st.columns([3, 1])
    grid = tile_maps(maps01, pad_value=np.nan)
    grid_column.image(colourise(enlarge(grid, 240)), width="stretch",
                      caption="Maps numbered row by row, from 0 at the top left")
    with big_column:
        channel = st.number_input("Enlarge map", 0, channels - 1, 0, step=1,
                                  key=f"layers_map_{spec.name}_{layer.name}")
        values = layer.maps[..., channel]
        st.image(colourise(enlarge(maps01[..., channel], 200)), width="stretch",
                 caption=value_caption(channel, values))


def value_caption(channel: int, values: np.ndarray) -> str:
    """What the numbers of one map are, in words where the numbers alone would puzzle."""
    low, high = float(values.min()), float(values.max())
    if high - low <= 1e-6 * max(1.0, abs(high)):
        what = "zero everywhere" if abs(high) <= 1e-6 else f"{high:.3g} everywhere"
        return (f"Map {channel}: {what}, so it shows one flat colour: this filter finds nothing "
                "of its pattern in this image.")
    return f"Map {channel}: values {low:.3g} to {high:.3g}"


st.title("Layers", anchor=False)
st.markdown("A convolutional network turns the image into a stack of **feature maps** at every "
            "layer: early layers respond to edges and blobs, later ones to parts of objects, at a "
            "coarser and coarser resolution. Bright (yellow) means a strong response.")

conv_models = [spec for spec in MODELS.values() if spec.cam_layer is not None]
settings = st.columns([2, 3])
with settings[0]:
    spec = widgets.model_choice(conv_models, key="layers_model", default="fashion_cnn",
                                as_list=True)
prepared = widgets.page_input(
    None, key=f"layers_{spec.dataset}", spec=spec, where=settings[1], start_with_sample=True,
    prompt="Upload an image or pick a sample to see what every layer makes of it.",
    icon=":material/layers:").prepared

with st.spinner("Running the image through every layer..."):
    activations = loaders.activation_extractor(spec.name)(prepared.model_input)
# A 1x1 "map" (MobileNet's conv_preds: one score per class) is a list of numbers, not a picture.
single_pixel = [layer for layer in activations if layer.shape[0] * layer.shape[1] == 1]
activations = [layer for layer in activations if layer.shape[0] * layer.shape[1] > 1]
names = [layer.name for layer in activations]

seen, options = st.columns([1, 3])
model_input = prepared.model_input.astype(np.uint8)
seen.image(enlarge(model_input[..., 0] if model_input.shape[-1] == 1 else model_input, 140),
           caption=f"What the model sees ({'x'.join(map(str, model_input.shape[:2]))})")
with options:
    chosen = st.multiselect(f"Layers ({len(names)} with feature maps)", names,
                            default=default_layers(names), key=f"layers_pick_{spec.name}")
    # one choice per model: "shared" on a small model must not carry over to a big one
    scale = st.radio("Colour scale", list(SCALE_NAMES), format_func=SCALE_NAMES.get,
                     horizontal=True, key=f"layers_scale_{spec.name}", help=SCALE_HELP)
    st.image(colour_scale_bar(), caption="low → high", width=256)

if single_pixel:
    st.caption(" · ".join(
        f"{layer.name} ({layer.shape[0]}×{layer.shape[1]}×{layer.shape[2]}) is not drawn: each of "
        f"its {layer.shape[2]} maps is a single number (one score per class), not a picture."
        for layer in single_pixel))
shown = [layer for layer in activations if layer.name in chosen]
if not shown:
    st.info("Pick at least one layer above.")
    st.stop()
value_range = None
if scale == "shared":
    value_range = (min(float(layer.maps.min()) for layer in shown),
                   max(float(layer.maps.max()) for layer in shown))
for layer in shown:
    st.divider()
    show_layer(spec, layer, scale, value_range)
