"""How a CNN works: a step-by-step walk-through on a 9x9 "X" of +1/-1 pixels (convolution as
"multiply, add, divide by 9", ReLU, max pooling, a second round, flattening and the vote for X or
O), with pixels the student can flip; then the same three ideas on a real Fashion-MNIST image with
the real first-layer filters of the Fashion CNN."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui import charts, loaders, widgets
from vision import walkthrough as wt
from vision.errors import VisionLabError
from vision.registry import get_spec

IMAGE_KEY, VERSION_KEY = "cnn_image", "cnn_grid_version"
STEP_KEY = "cnn_step"
SIDE = wt.IMAGE_SIZE
CONV_SIDE = SIDE - 2  # a 3x3 filter fits 7 times across a 9-pixel row
FILTER_NAMES = list(wt.FILTERS)
REAL_MODEL = "fashion_cnn"


def numbers(values: np.ndarray) -> np.ndarray:
    """Values as text, truncated (not rounded) to 2 decimals, as in the classic walk-through."""
    return np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.2f}")(wt.truncate(values))


def grid(values: np.ndarray, key: str, box=None, zmin=-1.0, zmax=1.0, cell: int = 34,
         text: np.ndarray | None = None, colorscale: str | list = "RdBu") -> None:
    st.plotly_chart(charts.number_grid(values, numbers(values) if text is None else text,
                                      colorscale=colorscale, zmin=zmin, zmax=zmax, box=box, cell=cell),
                    key=key, config={"displayModeBar": False})


def set_image(image: np.ndarray) -> None:
    st.session_state[IMAGE_KEY] = np.array(image, dtype=np.float64)
    st.session_state[VERSION_KEY] = st.session_state.get(VERSION_KEY, 0) + 1


def flip(row: int, col: int) -> None:
    set_image(wt.flip_pixel(st.session_state[IMAGE_KEY], row, col))


def move_step(delta: int) -> None:
    st.session_state[STEP_KEY] = int(np.clip(st.session_state.get(STEP_KEY, 1) + delta, 1, CONV_SIDE ** 2))


# ---------------------------------------------------------------- the input
def edit_input() -> np.ndarray:
    """The 9x9 picture, which the student edits by clicking pixels (or with the fallback picker)."""
    if IMAGE_KEY not in st.session_state:
        set_image(wt.X_IMAGE)
    version = st.session_state[VERSION_KEY]
    chart_key = f"cnn_grid_{version}"
    clicked = charts.clicked_custom(st.session_state.get(chart_key))
    if isinstance(clicked, (list, tuple)) and len(clicked) == 2:
        flip(int(clicked[0]), int(clicked[1]))  # a new chart key: the next click registers afresh
        version = st.session_state[VERSION_KEY]
        chart_key = f"cnn_grid_{version}"
    picture, controls = st.columns([3, 2])
    with picture:
        st.plotly_chart(charts.pixel_editor_figure(st.session_state[IMAGE_KEY]), key=chart_key,
                        on_select="rerun", selection_mode="points", config={"displayModeBar": False})
    with controls:
        st.markdown("**Click a pixel** to flip it between ink (+1) and background (-1), and watch "
                    "every step below change.")
        x_button, o_button = st.columns(2)
        x_button.button("Reset to X", key="cnn_reset_x", on_click=set_image, args=(wt.X_IMAGE,),
                        icon=":material/close:")
        o_button.button("Reset to O", key="cnn_reset_o", on_click=set_image, args=(wt.O_IMAGE,),
                        icon=":material/circle:")
        st.caption("Or flip a pixel by its position:")
        row_box, col_box = st.columns(2)
        row = row_box.selectbox("Row", range(1, SIDE + 1), key="cnn_flip_row")
        col = col_box.selectbox("Column", range(1, SIDE + 1), key="cnn_flip_col")
        st.button("Flip this pixel", key="cnn_flip", on_click=flip, args=(row - 1, col - 1),
                  icon=":material/flip:")
    return st.session_state[IMAGE_KEY]


# ---------------------------------------------------------------- step 1: convolution
def show_convolution(image: np.ndarray, result: wt.WalkthroughResult) -> str:
    st.header("1 · Convolution: multiply, add, divide by 9")
    st.markdown("A **filter** is a small 3×3 picture of a feature. It slides over the image; at "
                "each position we multiply each pixel by the filter value on top of it, add the 9 "
                "products and divide by 9. A perfect match gives 1.00, a perfect mismatch -1.00.")
    name = st.radio("Filter", FILTER_NAMES, horizontal=True, key="cnn_filter")
    kernel = wt.FILTERS[name]
    if STEP_KEY not in st.session_state:
        st.session_state[STEP_KEY] = 1
    step = st.slider("Filter position (step)", 1, CONV_SIDE ** 2, key=STEP_KEY,
                     help="The 49 positions of the filter, row by row.")
    back, forward_button, _ = st.columns([1, 1, 4])
    back.button("◀ Previous", key="cnn_prev", on_click=move_step, args=(-1,))
    forward_button.button("Next ▶", key="cnn_next", on_click=move_step, args=(1,))
    position = step - 1
    row, col = divmod(position, CONV_SIDE)
    steps = list(wt.convolution_steps(image, kernel))
    current = steps[position]

    left, middle, right = st.columns(3)
    with left:
        st.caption(f"The image, filter at row {row + 1}, column {col + 1}")
        grid(image, "cnn_conv_image", box=(row, col, 3), text=np.where(image > 0, "+1", "-1"),
             colorscale=charts.INK_SCALE)
    with middle:
        st.caption(f"The filter “{name}”")
        grid(kernel, "cnn_conv_kernel", text=np.where(kernel > 0, "+1", "-1"), cell=44,
             colorscale=charts.INK_SCALE)
    with right:
        st.caption("Pixel × filter: the 9 products")
        grid(current.products, "cnn_conv_products", text=np.where(current.products > 0, "+1", "-1"),
             cell=44, colorscale=charts.MATCH_SCALE)
        st.caption("Blue: pixel and filter agree (+1); red: they disagree (-1).")
    total = current.products.sum()
    st.markdown(f"Sum of the products: **{total:+.0f}**; divided by 9: {total:.0f} ÷ 9 = "
                f"**{wt.truncate(current.value):.2f}**, written at row {row + 1}, column {col + 1} "
                "of the feature map.")
    filled = np.full((CONV_SIDE, CONV_SIDE), np.nan)
    flat = filled.reshape(-1)
    flat[:position + 1] = [s.value for s in steps[:position + 1]]
    show_all = st.toggle("Show the whole feature map", key="cnn_show_all")
    st.caption(f"Feature map of “{name}”: {CONV_SIDE}×{CONV_SIDE}"
               + ("" if show_all else f", filled up to step {step}"))
    grid(result.conv[name] if show_all else filled, "cnn_conv_map", box=(row, col, 1))
    return name


# ---------------------------------------------------------------- steps 2 to 5
def stage_row(result_maps: dict[str, np.ndarray], key: str, shape_word: str) -> None:
    for column, name in zip(st.columns(len(FILTER_NAMES)), FILTER_NAMES):
        with column:
            values = result_maps[name]
            st.caption(f"“{name}”: {values.shape[0]}×{values.shape[1]} {shape_word}")
            grid(values, f"{key}_{name}", cell=max(22, 34 if values.shape[0] <= 7 else 26))


def show_relu_and_pooling(result: wt.WalkthroughResult) -> None:
    st.header("2 · ReLU: negatives become 0")
    st.markdown("The rectified linear unit keeps positive values and turns every negative value "
                "into 0: only the evidence *for* a feature goes on.")
    st.caption("All three filters, after convolution:")
    stage_row(result.conv, "cnn_conv", "convolution")
    st.caption("The same maps after ReLU:")
    stage_row(result.relu, "cnn_relu", "after ReLU")

    st.header("3 · Max pooling: 2×2 windows, stride 2")
    st.markdown("Each 2×2 window keeps only its largest value, and the window jumps 2 pixels at "
                "a time. A 7×7 map becomes 4×4 (the last row and column pool what is left of "
                "their window). The feature is still there, in a smaller, shift-tolerant map.")
    stage_row(result.pooled, "cnn_pooled", "after pooling")

    st.header("4 · A second round")
    st.markdown("The same three ideas again on the 4×4 maps (each filter on its own map, with "
                "zero padding so 4×4 stays 4×4), then pooling: 4×4 becomes **2×2**. Deeper "
                "layers see larger parts of the image.")
    with st.expander("The second convolution and ReLU (4×4)"):
        stage_row(result.conv2, "cnn_conv2", "convolution")
        stage_row(result.relu2, "cnn_relu2", "after ReLU")
    stage_row(result.pooled2, "cnn_pooled2", "after the second pooling")


def show_vote(result: wt.WalkthroughResult) -> None:
    st.header("5 · Flatten and vote")
    st.markdown("The three 2×2 maps are laid end to end: **12 numbers**. Each class has a weight "
                "for every number (here, the numbers the perfect X and the perfect O give); a "
                "high number with a high weight is a strong vote. The votes become probabilities.")
    labels = [f"{name} {i + 1}" for name in FILTER_NAMES for i in range(4)]
    figure = go.Figure()
    figure.add_trace(go.Bar(x=labels, y=result.features, name="feature", marker_color=charts.NEUTRAL,
                            text=numbers(result.features), textposition="outside"))
    for weights, name, colour in zip(wt.VOTE_WEIGHTS, wt.CLASSES, (charts.ACCENT, "#54a24b")):
        figure.add_trace(go.Scatter(x=labels, y=weights, mode="markers", name=f"weight for {name}",
                                    marker=dict(color=colour, size=10, symbol="diamond")))
    figure.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10),
                         yaxis=dict(title="value"), xaxis=dict(tickangle=-40),
                         legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
    st.caption(f"The flattened vector: {len(result.features)} numbers")
    st.plotly_chart(figure, key="cnn_vote_chart")
    left, right, answer = st.columns(3)
    left.metric("Vote for X", f"{result.votes[0]:.2f}")
    right.metric("Vote for O", f"{result.votes[1]:.2f}")
    probability = float(result.probabilities.max())
    answer.metric("Answer", f"{result.prediction} ({probability:.0%})")
    st.markdown(f"P(X) = **{result.probabilities[0]:.1%}**, P(O) = **{result.probabilities[1]:.1%}** "
                "(each vote is divided by a small temperature before the softmax, so a lead of "
                "0.1 in votes gives odds of about 2.7 to 1).")


# ---------------------------------------------------------------- a real image
def show_real() -> None:
    st.header("6 · The same ideas on a real image")
    st.markdown("A Fashion-MNIST picture through the **first convolutional layer of the Fashion "
                "CNN**: its filters were learned, not drawn by hand. The convolution here is a sum "
                "plus a bias (no division), on pixels scaled to 0-1; then ReLU and 2×2 pooling.")
    samples = loaders.samples(get_spec(REAL_MODEL).dataset)
    if not samples:
        st.warning("The Fashion-MNIST sample images are missing (`weights/fashion_samples.npz`); "
                   "they are written when a Fashion model is trained.")
        return
    if not get_spec(REAL_MODEL).weights_available:
        st.warning(widgets.not_trained_message(get_spec(REAL_MODEL)))
        return
    images = [pixels for pixels, _, _ in samples]
    index = st.selectbox("Fashion-MNIST image", range(len(images)), key="cnn_real_sample",
                         format_func=lambda i: f"{samples[i][2]} (sample {i + 1})")
    try:
        with st.spinner("Loading the Fashion CNN..."):
            kernels, biases = wt.real_first_layer(loaders.predictor(REAL_MODEL).model)
        stages = wt.conv_relu_pool_real(images[index], kernels, biases)
    except (VisionLabError, ValueError) as err:
        st.warning(f"The real filters could not be read: {err}")
        return
    count = kernels.shape[-1]
    chosen = st.slider("Filter", 1, count, 1, key="cnn_real_filter") - 1
    picture, weights, conv, relu_col, pooled = st.columns(5)
    picture.image(charts.thumbnail(images[index], 140), caption="the image (28×28)", width=140)
    with weights:
        st.caption(f"Filter {chosen + 1} of {count} ({kernels.shape[0]}×{kernels.shape[1]} weights)")
        kernel = kernels[..., 0, chosen]
        limit = float(np.abs(kernel).max()) or 1.0
        grid(kernel, "cnn_real_kernel", zmin=-limit, zmax=limit, cell=40)
    maps = ((conv, stages.conv, "convolution", "RdBu"), (relu_col, stages.relu, "ReLU", "Viridis"),
            (pooled, stages.pooled, "max pooling", "Viridis"))
    for column, values, word, scale in maps:
        plane = values[..., chosen]
        limit = float(np.abs(plane).max()) or 1.0
        with column:
            st.caption(f"after {word}: {plane.shape[0]}×{plane.shape[1]}")
            st.plotly_chart(charts.number_grid(plane, None, colorscale=scale, zmin=-limit if word ==
                                              "convolution" else 0.0, zmax=limit, cell=7),
                            key=f"cnn_real_{word}", config={"displayModeBar": False})
    st.caption("The real network also normalises each map (batch normalisation) before its ReLU; "
               "that step is left out here to keep the three ideas plain.")
    with st.expander(f"All {count} filters' maps after ReLU and pooling"):
        tiles = []
        for f in range(count):
            plane = stages.pooled[..., f]
            peak = float(plane.max()) or 1.0
            tiles.append(charts.thumbnail(plane / peak * 255, 84))
        st.image(tiles, caption=[f"filter {f + 1}" for f in range(count)], width=84)


st.title("How a CNN works")
st.markdown("A tiny network, worked by hand, decides whether a 9×9 picture is an **X** or an "
            "**O**. Every number below is computed from the picture: change a pixel and follow it "
            "through the steps.")
image = edit_input()
result = wt.forward(image)
st.success(f"The network says **{result.prediction}** with probability "
           f"{float(result.probabilities.max()):.1%}.", icon=":material/psychology:")
show_convolution(image, result)
show_relu_and_pooling(result)
show_vote(result)
show_real()
