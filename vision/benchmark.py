"""How much the compiled, built-once calls save: `python -m vision.benchmark [--models ...]`.

For each model, one image, median of `--repeats` timed calls after one warm-up call:
- prediction through `Predictor.probabilities` (tf.function, fixed signature) vs `model.predict`;
- the same compiled prediction right after `keras.backend.clear_session()` (what Streamlit
  does after every script run, unless the app stops it: see `ui.loaders.keep_compiled_kernels`);
- Grad-CAM through `GradCAM` (gradient model and tf.function built once) vs the keras-io recipe
  (a new keras.Model and an eager GradientTape on every call);
then the process's peak memory. Uses the shipped weights, or an untrained model when they are
missing (timings do not depend on the weights' values). Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import threading
import time
import warnings
from typing import Callable, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from vision.errors import VisionLabError  # noqa: E402
from vision.explain import GradCAM  # noqa: E402
from vision.models import Predictor, load_model, logits_tensor  # noqa: E402
from vision.processes import cpu_seconds  # noqa: E402
from vision.registry import get_spec  # noqa: E402


def median_seconds(call: Callable[[], object], repeats: int) -> float:
    """Median wall time of `call` over `repeats` runs, after one untimed warm-up run."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sessions_at_once(call: Callable[[object], object], sessions: int, seconds: float,
                     items: Sequence[object]) -> dict:
    """`sessions` Python threads (as Streamlit's script threads) each doing `call(item)` back to
    back for `seconds`, through `items` from different starting points. Returns the calls, the
    calls per second, the p50 and p95 of one call (seconds), the CPU seconds per call of this
    process and its children (a pool's workers), and the cores they kept busy."""
    times: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def session(offset: int) -> None:
        i = offset
        while time.perf_counter() < stop:
            start = time.perf_counter()
            call(items[i % len(items)])
            with lock:
                times.append(time.perf_counter() - start)
            i += sessions

    cpu, wall = cpu_seconds([os.getpid()]), time.perf_counter()
    threads = [threading.Thread(target=session, args=(k,)) for k in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu = cpu_seconds([os.getpid()]) - cpu
    wall = time.perf_counter() - wall
    times.sort()
    return {"calls": len(times), "rate": len(times) / wall, "p50": times[len(times) // 2],
            "p95": times[min(len(times) - 1, int(len(times) * 0.95))],
            "cpu": cpu / max(1, len(times)), "cores": cpu / wall}


def naive_grad_cam(model: keras.Model, layer_name: str, image: np.ndarray) -> np.ndarray:
    """Grad-CAM the keras-io way: the gradient model is rebuilt, and run eagerly, on every call."""
    grad_model = keras.Model(model.inputs, [model.get_layer(layer_name).output, logits_tensor(model)])
    with tf.GradientTape() as tape:
        features, logits = grad_model(image[None])
        score = logits[:, tf.argmax(logits[0])]
    gradients = tape.gradient(score, features)
    heatmap = tf.maximum(features[0] @ tf.reduce_mean(gradients, axis=(0, 1, 2))[:, None], 0)
    return (heatmap[..., 0] / (tf.reduce_max(heatmap) + 1e-12)).numpy()


def load_or_build(name: str) -> tuple[keras.Model, bool]:
    """The registered model with its weights, or (falling back) untrained; and whether trained."""
    try:
        return load_model(name), True
    except VisionLabError:
        return get_spec(name).build(), False


def benchmark(name: str, repeats: int) -> None:
    """Print the prediction and Grad-CAM timings of one registered model."""
    spec = get_spec(name)
    model, trained = load_or_build(name)
    image = np.random.default_rng(0).uniform(0, 255, spec.input_shape).astype(np.float32)
    print(f"{name} ({'with its weights' if trained else 'untrained: weights missing'}), "
          f"input {spec.input_shape}, median of {repeats}")

    predictor = Predictor(model, spec)
    fast = median_seconds(lambda: predictor.probabilities(image), repeats)
    slow = median_seconds(lambda: model.predict(image[None], verbose=0), repeats)
    print(f"  predict   compiled {fast * 1e3:8.2f} ms   model.predict {slow * 1e3:8.2f} ms"
          f"   x{slow / fast:.1f}")

    def predict_after_clear_session():
        keras.backend.clear_session(free_memory=False)  # drops TensorFlow's compiled kernels
        predictor.probabilities(image)

    cleared = median_seconds(predict_after_clear_session, repeats)
    print(f"  predict   kernels kept {fast * 1e3:5.2f} ms   after clear_session {cleared * 1e3:6.2f} ms"
          f"   x{cleared / fast:.1f}   (Streamlit clears after every run unless the app stops it)")

    if spec.cam_layer is None:
        print("  grad-cam  (no conv layer)")
        return
    start = time.perf_counter()
    explainer = GradCAM(model, spec.cam_layer)
    explainer(image)  # the first call traces the tf.function: part of the one-off cost
    built = time.perf_counter() - start
    fast = median_seconds(lambda: explainer(image), repeats)
    slow = median_seconds(lambda: naive_grad_cam(model, spec.cam_layer, image), repeats)
    print(f"  grad-cam  built once {fast * 1e3:6.2f} ms   rebuilt per call {slow * 1e3:8.2f} ms"
          f"   x{slow / fast:.1f}   (build + trace once: {built * 1e3:.0f} ms, {spec.cam_layer})")


def main(argv: list[str] | None = None) -> None:
    """Command line: `python -m vision.benchmark --models fashion_cnn flowers_scratch --repeats 20`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["fashion_cnn"])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    # keras-io's recipe passes `model.inputs` (a list) for a one-input model: Keras warns each call.
    warnings.filterwarnings("ignore", message="The structure of `inputs`")
    for name in args.models:
        benchmark(name, max(1, args.repeats))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(f"peak memory (max RSS) {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
