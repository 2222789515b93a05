"""Playground: perturb an image with sliders (rotate, shift, zoom, blur, noise, brightness, an
occlusion patch) and watch the top 5 and the heat map change live; then map which regions the
prediction depends on (occlusion sensitivity) and how it survives rotation."""

import hashlib

import numpy as np
import streamlit as st

from ui import charts, loaders, widgets
from vision.errors import VisionLabError
from vision.heatmaps import overlay_heatmap
from vision import registry
from vision.perturb import occlusion_sensitivity, perturb, rotation_sweep, steady_range
from vision.registry import get_spec

DEFAULT_MODEL = "fashion_cnn"
SWEEP_ANGLES = np.arange(-180, 181, 10)
SLIDERS = {  # key: (label, min, max, default, step, help)
    "playground_rotate": ("Rotate (degrees)", -180, 180, 0, 5, "Counter-clockwise."),
    "playground_shift_x": ("Shift right", -0.5, 0.5, 0.0, 0.05, "A fraction of the width."),
    "playground_shift_y": ("Shift down", -0.5, 0.5, 0.0, 0.05, "A fraction of the height."),
    "playground_zoom": ("Zoom", 0.5, 2.0, 1.0, 0.05, "Below 1 shrinks the picture, above 1 enlarges it."),
    "playground_blur": ("Blur (pixels)", 0.0, 3.0, 0.0, 0.25, "Standard deviation of a Gaussian blur."),
    "playground_noise": ("Noise", 0.0, 0.5, 0.0, 0.02, "Random noise, as a fraction of the pixel range."),
    "playground_brightness": ("Brightness", -1.0, 1.0, 0.0, 0.05, "Added to every pixel, as a fraction of the range."),
    "playground_patch_x": ("Patch centre, across", 0.0, 1.0, 0.5, 0.05, "0 is the left edge, 1 the right."),
    "playground_patch_y": ("Patch centre, down", 0.0, 1.0, 0.5, 0.05, "0 is the top, 1 the bottom."),
    "playground_patch_size": ("Hidden patch: size", 0.05, 1.0, 0.3, 0.05,
                              "A fraction of the image's side. (The occlusion map below slides "
                              "its own patch, sized in pixels.)"),
}


def reset_sliders() -> None:
    for key, (*_, default, _step, _help) in SLIDERS.items():
        st.session_state[key] = default
    st.session_state["playground_occlude"] = False


def slider(key: str, container=st) -> float:
    label, low, high, default, step, help_text = SLIDERS[key]
    if key not in st.session_state:  # the default lives in the state, so Reset can set it too
        st.session_state[key] = default
    return container.slider(label, low, high, step=step, key=key, help=help_text)


def flat(image: np.ndarray) -> np.ndarray:
    """A one-channel model input as a 2-D picture; colour images as they are."""
    return image[..., 0] if image.shape[-1] == 1 else image


def as_channels(image: np.ndarray, like: np.ndarray) -> np.ndarray:
    return image[..., None] if image.ndim == 2 and like.ndim == 3 else image


def class_to_follow(labels: tuple[str, ...], predicted: int, true_index: int | None) -> int:
    """The class whose probability the maps follow: the predicted one, or the true one."""
    names = {"predicted": f"the predicted class ({labels[predicted]})",
             "true": f"the true class ({labels[true_index]})" if true_index is not None
             else "the true class (unknown for an upload)"}
    choice = st.radio("Class to follow in the maps below", ["predicted", "true"], horizontal=True,
                      format_func=names.get, key="playground_follow")
    if choice == "true" and true_index is not None:
        return true_index
    if choice == "true":
        st.caption("The true class of an upload is unknown: the maps follow the predicted class.")
    return predicted


@st.fragment
def live_lab(name: str, base: np.ndarray) -> None:
    """The sliders and what the model says about the perturbed image (reruns on its own)."""
    spec = get_spec(name)
    controls, more = st.columns(2)
    with controls:
        rotate = slider("playground_rotate")
        shift_x = slider("playground_shift_x")
        shift_y = slider("playground_shift_y")
        zoom = slider("playground_zoom")
    with more:
        blur = slider("playground_blur")
        noise = slider("playground_noise")
        brightness = slider("playground_brightness")
        occlude = st.checkbox("Hide a patch (occlusion)", key="playground_occlude")
    occlusion = None
    if occlude:
        a, b, c = st.columns(3)
        occlusion = (slider("playground_patch_x", a), slider("playground_patch_y", b),
                     slider("playground_patch_size", c))
    st.button("Reset the changes", key="playground_reset", on_click=reset_sliders,
              icon=":material/restart_alt:")

    try:
        changed = as_channels(perturb(flat(base), rotate_deg=rotate, shift=(shift_x, shift_y), scale=zoom,
                                      blur_sigma=blur, noise_std=noise, brightness=brightness,
                                      occlusion=occlusion), base)
        top = loaders.top_k(name, changed, k=5)
        before = loaders.top_k(name, base, k=1)
    except VisionLabError as err:
        widgets.show_error(err)
        return
    st.markdown(f"**Prediction:** {top.label} ({top.probability:.1%})  \n"
                f"Before the changes: {before.label} ({before.probability:.1%})")
    seen, bars, heat = st.columns(3)
    seen.image(charts.thumbnail(changed, 196), caption="what the model sees now", width=196)
    with bars:
        widgets.show_top_k(top.labels, top.probabilities, key="playground_topk", k=len(top.labels))
    if spec.cam_layer is None:
        heat.caption(f"{spec.title} has no convolutional layer, so it has no heat map.")
        return
    heatmap = loaders.heat_map(name, changed, int(top.indices[0]))
    if heatmap is None:  # the prediction above still stands
        heat.caption("The heat map could not be computed for this image.")
        return
    heat.image(charts.thumbnail(overlay_heatmap(changed, heatmap), 196), width=196,
               caption=f"{loaders.method_name(name)} of {top.label}")


def computed(key: str, identity, label: str, icon: str, busy: str, what: str, compute):
    """A long computation run when its button is pressed, with a progress bar; its result is kept
    in the session for `identity` (image, class, settings). The result for this identity, or None
    (not computed yet, or it failed: the error is shown)."""
    state_key = f"{key}_result"
    if st.button(label, key=f"{key}_button", icon=icon):
        bar = st.progress(0.0, text=f"{busy}...")
        try:
            result = compute(lambda done: bar.progress(min(float(done), 1.0), text=f"{busy}... {done:.0%}"))
        except (VisionLabError, ValueError) as err:
            st.error(f"{what} could not be computed: {err}")
            return None
        finally:
            bar.empty()
        st.session_state[state_key] = {"identity": identity, "result": result}
    kept = st.session_state.get(state_key)
    return kept["result"] if kept is not None and kept["identity"] == identity else None


def show_occlusion(name: str, base: np.ndarray, identity: str, follow: int, labels) -> None:
    st.subheader("Occlusion sensitivity")
    st.caption("A grey patch slides over the original image (without the changes above); for each "
               "position the model predicts again. Red: hiding that region lowers the probability "
               "of the class, so the model relies on it. Blue: hiding it raises the probability.")
    side = min(base.shape[:2])
    left, right = st.columns(2)
    patch = left.slider("Sliding patch: size (pixels)", 2, max(3, side // 2), max(2, side // 7),
                        key=f"playground_occlusion_patch_{side}",
                        help=f"The side of the grey square slid over the {side}-pixel image "
                             "(the hidden patch above is a separate, live experiment).")
    stride = right.slider("Stride (pixels)", 1, max(2, side // 4), max(1, side // 14),
                          key=f"playground_occlusion_stride_{side}")
    drops = computed("playground_occlusion", (identity, follow, patch, stride),
                     "Compute the occlusion map", ":material/grid_on:", "Hiding each patch in turn",
                     "The occlusion map", lambda progress: occlusion_sensitivity(
                         loaders.predictor(name).probabilities, flat(base), follow, patch, stride,
                         progress=progress))
    if drops is None:
        st.caption("Press the button to compute the map for this image and these settings.")
        return
    st.plotly_chart(charts.occlusion_figure(base, drops, labels[follow]), key="playground_occlusion_chart")
    row, col = np.unravel_index(int(np.argmax(drops)), drops.shape)
    if drops.max() < 0.005:
        st.caption(f"Hiding any one region barely changes P({labels[follow]}): the model does not "
                   "depend on a single part of this image.")
    else:
        st.caption(f"Hiding the region around row {row}, column {col} lowers P({labels[follow]}) "
                   f"the most: by {drops.max():.1%} on average.")


def show_rotation(name: str, base: np.ndarray, identity: str, follow: int, labels) -> None:
    st.subheader("Confidence versus rotation")
    st.caption("The original image turned from -180° to 180° in steps of 10°.")
    sweep = computed("playground_rotation", (identity, follow),
                     "Sweep the rotation from -180° to 180°", ":material/rotate_right:",
                     "Rotating and predicting", "The rotation sweep", lambda progress: rotation_sweep(
                         loaders.predictor(name).probabilities, flat(base), follow, SWEEP_ANGLES,
                         progress=progress))
    if sweep is None:
        st.caption("Press the button to sweep this image.")
        return
    names = [labels[i] for i in sweep.predicted]
    st.plotly_chart(charts.rotation_figure(sweep.angles, sweep.class_probabilities, labels[follow], names,
                                          sweep.probabilities.max(axis=1)), key="playground_rotation_chart")
    steady = steady_range(sweep.angles, sweep.predicted, follow)
    if steady is None:
        st.caption(f"Upright, the model does not predict {labels[follow]}.")
    else:
        st.caption(f"The model predicts {labels[follow]} only upright (0°): a turn of 10° already "
                   "changes its answer." if steady[0] == steady[1] else
                   f"The model keeps predicting {labels[follow]} from {steady[0]:.0f}° to "
                   f"{steady[1]:.0f}°.")


st.title("Playground")
st.markdown("Change the picture and watch the model's answer and its heat map follow. Which "
            "changes does it shrug off, and which fool it?")

names = registry.trained_models()
name = st.selectbox("Model", names, index=names.index(DEFAULT_MODEL) if DEFAULT_MODEL in names else 0,
                    format_func=lambda n: get_spec(n).title, key="playground_model")
spec = get_spec(name)
if not spec.weights_available:
    st.warning(widgets.not_trained_message(spec) + " Pick another model meanwhile.")
    st.stop()
page = widgets.page_input(None, key=f"playground_{spec.dataset}", spec=spec, start_with_sample=True,
                          prompt="Choose a sample or upload a picture to play with.", icon=None)
image, base = page.image, page.prepared.model_input
original = loaders.top_k(name, base, k=1)

live_lab(name, base)

st.divider()
labels = spec.labels
true_index = labels.index(image.true_label) if image.true_label in labels else None
follow = class_to_follow(labels, int(original.indices[0]), true_index)
identity = f"{name}:{hashlib.sha1(np.ascontiguousarray(base).tobytes()).hexdigest()}"
show_occlusion(name, base, identity, follow, labels)
show_rotation(name, base, identity, follow, labels)
