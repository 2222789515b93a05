""""How a CNN works", step by step, on Brandon Rohrer's 9x9 X and O images of +1 and -1 pixels.

Three hand-made 3x3 filters are convolved with the image ("multiply, add, divide by 9"), negative
values are set to zero (ReLU), each 7x7 map is max-pooled to 4x4, a second round of the same
three ideas gives 2x2 maps, and their 12 numbers vote for "X" or "O". Everything is small numpy,
fast enough to recompute on every pixel the user flips. `real_first_layer` and
`conv_relu_pool_real` show the same three ideas with a trained model's first convolution.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from vision.errors import InvalidImageError

_ = -1  # background pixel, so the pictures below read as pictures
X_IMAGE = np.array([
    [_, _, _, _, _, _, _, _, _],
    [_, 1, _, _, _, _, _, 1, _],
    [_, _, 1, _, _, _, 1, _, _],
    [_, _, _, 1, _, 1, _, _, _],
    [_, _, _, _, 1, _, _, _, _],
    [_, _, _, 1, _, 1, _, _, _],
    [_, _, 1, _, _, _, 1, _, _],
    [_, 1, _, _, _, _, _, 1, _],
    [_, _, _, _, _, _, _, _, _],
], dtype=np.float64)
O_IMAGE = np.array([
    [_, _, _, _, _, _, _, _, _],
    [_, _, _, 1, 1, 1, _, _, _],
    [_, _, 1, _, _, _, 1, _, _],
    [_, 1, _, _, _, _, _, 1, _],
    [_, 1, _, _, _, _, _, 1, _],
    [_, 1, _, _, _, _, _, 1, _],
    [_, _, 1, _, _, _, 1, _, _],
    [_, _, _, 1, 1, 1, _, _, _],
    [_, _, _, _, _, _, _, _, _],
], dtype=np.float64)
FILTERS: dict[str, np.ndarray] = {
    "diagonal \\": np.array([[1, _, _], [_, 1, _], [_, _, 1]], dtype=np.float64),
    "x centre": np.array([[1, _, 1], [_, 1, _], [1, _, 1]], dtype=np.float64),
    "diagonal /": np.array([[_, _, 1], [_, 1, _], [1, _, _]], dtype=np.float64),
}
del _
CLASSES = ("X", "O")
IMAGE_SIZE = 9
# Votes are cosine similarities in [0, 1]; dividing by this before the softmax turns a lead of
# 0.1 into odds of e : 1, so the answer reads clearly without changing which class wins.
VOTE_TEMPERATURE = 0.1


# ---------------------------------------------------------------- the three ideas
def convolve(image: np.ndarray, kernel: np.ndarray, padding: str = "valid") -> np.ndarray:
    """Slide `kernel` over `image`; each value is the mean of the elementwise product ("multiply,
    add, divide by the number of pixels"), so a perfect match of +1/-1 pixels gives 1.00.
    "valid": a 9x9 image and 3x3 kernel give 7x7; "same": zero padding keeps the size."""
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    kh, kw = kernel.shape
    if padding == "same":
        top, left = (kh - 1) // 2, (kw - 1) // 2
        image = np.pad(image, ((top, kh - 1 - top), (left, kw - 1 - left)))
    elif padding != "valid":
        raise ValueError(f"padding must be 'valid' or 'same', not {padding!r}")
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
    return np.einsum("ijuv,uv->ij", windows, kernel) / kernel.size


@dataclass(frozen=True)
class ConvStep:
    """One position of the filter during a convolution (for an animation)."""

    row: int
    col: int
    patch: np.ndarray  # the image pixels under the filter
    products: np.ndarray  # patch * filter
    value: float  # products.mean(): the number written at (row, col)


def convolution_steps(image: np.ndarray, kernel: np.ndarray) -> Iterator[ConvStep]:
    """Every position of a valid convolution, row by row, with the numbers behind its value."""
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    kh, kw = kernel.shape
    for row in range(image.shape[0] - kh + 1):
        for col in range(image.shape[1] - kw + 1):
            patch = image[row:row + kh, col:col + kw].copy()
            products = patch * kernel
            yield ConvStep(row, col, patch, products, float(products.mean()))


def relu(x: np.ndarray) -> np.ndarray:
    """Negative values become 0; the others are kept."""
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


def max_pool(x: np.ndarray, size: int = 2, stride: int = 2, ceil: bool = True) -> np.ndarray:
    """The largest value in each `size` x `size` window, moved by `stride`, over the first two
    axes of a map (H, W) or (H, W, channels). `ceil` keeps a last window that sticks out of the
    map (it pools what is left: 7x7 -> 4x4); otherwise such a window is dropped, as in Keras."""
    x = np.asarray(x, dtype=np.float64)

    def out_len(n: int) -> int:
        if n <= size:
            return 1
        steps = (n - size) / stride
        return int(np.ceil(steps) if ceil else np.floor(steps)) + 1

    rows, cols = out_len(x.shape[0]), out_len(x.shape[1])
    out = np.empty((rows, cols, *x.shape[2:]), dtype=np.float64)
    for i in range(rows):
        for j in range(cols):
            window = x[i * stride:i * stride + size, j * stride:j * stride + size]
            out[i, j] = window.max(axis=(0, 1))
    return out


# ---------------------------------------------------------------- the whole network
@dataclass(frozen=True)
class WalkthroughResult:
    """Every stage of the toy network for one 9x9 image; maps are keyed by filter name."""

    image: np.ndarray  # (9, 9)
    conv: dict[str, np.ndarray]  # (7, 7) each
    relu: dict[str, np.ndarray]  # (7, 7)
    pooled: dict[str, np.ndarray]  # (4, 4)
    conv2: dict[str, np.ndarray]  # (4, 4): the same filter again, zero padding
    relu2: dict[str, np.ndarray]  # (4, 4)
    pooled2: dict[str, np.ndarray]  # (2, 2)
    features: np.ndarray  # (12,): the 2x2 maps flattened, in FILTERS order
    votes: np.ndarray  # (2,): cosine similarity with each class's reference features
    probabilities: np.ndarray  # (2,): softmax(votes / VOTE_TEMPERATURE)
    classes: tuple[str, ...] = CLASSES

    @property
    def prediction(self) -> str:
        return self.classes[int(np.argmax(self.probabilities))]


def _check(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64)
    if image.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise InvalidImageError(
            f"The walkthrough image must be {IMAGE_SIZE}x{IMAGE_SIZE} pixels, got {image.shape}.")
    return image


def _stages(image: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    stages: dict[str, dict[str, np.ndarray]] = {k: {} for k in
                                                 ("conv", "relu", "pooled", "conv2", "relu2", "pooled2")}
    for name, kernel in FILTERS.items():
        stages["conv"][name] = convolve(image, kernel)
        stages["relu"][name] = relu(stages["conv"][name])
        stages["pooled"][name] = max_pool(stages["relu"][name])
        # The second round keeps each filter's own path (depthwise), so 3 maps stay 3 maps.
        stages["conv2"][name] = convolve(stages["pooled"][name], kernel, padding="same")
        stages["relu2"][name] = relu(stages["conv2"][name])
        stages["pooled2"][name] = max_pool(stages["relu2"][name])
    return stages


def _features(stages: dict[str, dict[str, np.ndarray]]) -> np.ndarray:
    return np.concatenate([stages["pooled2"][name].ravel() for name in FILTERS])


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


# The fully connected layer's weights, fixed rather than trained: each class votes with its own
# reference image's features (unit length), so a vote is the cosine similarity between the input's
# 12 features and that class's. By Cauchy-Schwarz the X image then votes X and the O image O.
VOTE_WEIGHTS = np.stack([_unit(_features(_stages(X_IMAGE))), _unit(_features(_stages(O_IMAGE)))])


def softmax(scores: np.ndarray) -> np.ndarray:
    """Scores to probabilities that sum to 1 (shifted by the maximum, so it never overflows)."""
    scores = np.asarray(scores, dtype=np.float64)
    e = np.exp(scores - scores.max())
    return e / e.sum()


def forward(image: np.ndarray) -> WalkthroughResult:
    """Run a 9x9 image (+1 ink, -1 background; any numbers work) through the toy network."""
    image = _check(image)
    stages = _stages(image)
    features = _features(stages)
    votes = VOTE_WEIGHTS @ _unit(features)
    return WalkthroughResult(image=image, features=features, votes=votes,
                             probabilities=softmax(votes / VOTE_TEMPERATURE), **stages)


# ---------------------------------------------------------------- showing the numbers
def truncate(values: np.ndarray | float, decimals: int = 2) -> np.ndarray:
    """Cut numbers to `decimals` places, towards zero (7/9 = 0.777... shows as 0.77, not 0.78).

    A tiny tolerance keeps values that are exact in decimal but not in binary (0.29 stored as
    0.28999...) from losing their last digit.
    """
    x = np.asarray(values, dtype=np.float64)
    factor = 10.0 ** decimals
    return np.trunc(x * factor + np.sign(x) * 1e-9) / factor + 0.0  # + 0.0: no "-0.00"


def flip_pixel(image: np.ndarray, row: int, col: int) -> np.ndarray:
    """A copy of a +1/-1 image with one pixel flipped (+1 becomes -1 and back)."""
    out = np.array(image, dtype=np.float64, copy=True)
    out[row, col] = -1.0 if out[row, col] > 0 else 1.0
    return out


# ---------------------------------------------------------------- a real first layer
def real_first_layer(model) -> tuple[np.ndarray, np.ndarray]:
    """The kernels (k, k, C_in, F) and biases (F,) of a Keras model's first Conv2D layer (zeros
    when it has no bias), searching nested models too."""
    import keras  # here, so the toy walkthrough needs no TensorFlow

    def first_conv(layer):
        if isinstance(layer, keras.layers.Conv2D):
            return layer
        for inner in getattr(layer, "layers", []):
            found = first_conv(inner)
            if found is not None:
                return found
        return None

    conv = first_conv(model)
    if conv is None:
        raise ValueError(f"{model.name} has no Conv2D layer")
    kernels = np.asarray(conv.kernel.numpy(), dtype=np.float32)
    biases = (np.asarray(conv.bias.numpy(), dtype=np.float32) if conv.use_bias
              else np.zeros(kernels.shape[-1], dtype=np.float32))
    return kernels, biases


@dataclass(frozen=True)
class RealStages:
    """A real image through a real first layer: (H, W, F) maps, then (H/2, W/2, F)."""

    conv: np.ndarray
    relu: np.ndarray
    pooled: np.ndarray


def conv_relu_pool_real(image28: np.ndarray, kernels: np.ndarray, biases: np.ndarray,
                        scale: float = 1 / 255, padding: str = "same") -> RealStages:
    """Convolution (as Keras computes it: a sum, plus bias, no division), ReLU and 2x2 max-pooling
    of an image (H, W) or (H, W, C_in) of 0-255 pixels, multiplied by `scale` first because the
    registered models normalise their input with a Rescaling(1/255) layer before the first conv."""
    x = np.asarray(image28, dtype=np.float64) * scale
    if x.ndim == 2:
        x = x[..., None]
    kernels = np.asarray(kernels, dtype=np.float64)
    kh, kw, c_in, _ = kernels.shape
    if x.shape[-1] != c_in:
        raise InvalidImageError(f"The filters expect {c_in} channel(s), the image has {x.shape[-1]}.")
    if padding == "same":  # TensorFlow's rule: the odd pixel of padding goes after
        top, left = (kh - 1) // 2, (kw - 1) // 2
        x = np.pad(x, ((top, kh - 1 - top), (left, kw - 1 - left), (0, 0)))
    elif padding != "valid":
        raise ValueError(f"padding must be 'valid' or 'same', not {padding!r}")
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(0, 1))  # (H, W, C, kh, kw)
    conv = np.einsum("ijcuv,uvcf->ijf", windows, kernels) + np.asarray(biases, dtype=np.float64)
    activated = relu(conv)
    return RealStages(conv.astype(np.float32), activated.astype(np.float32),
                      max_pool(activated, ceil=False).astype(np.float32))
