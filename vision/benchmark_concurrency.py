"""Ways to run a class's strokes on one machine, measured against each other:
`python -m vision.benchmark_concurrency [--sessions 1 2 4 8] [--seconds 5]`.

The work is a stroke's own work on the Doodle page, outside Streamlit: draw the strokes (a
drawing of up to 12 strokes, as a canvas sends it), the doodle preprocessing, the model's
prediction and CAM (one call), and the two heat-map pictures encoded as JPEG for the browser. N
concurrent sessions (Python threads, as Streamlit's script threads are) do strokes back to back,
each arrangement in turn:

- `in-process`: all of it on the session's own thread, which is what the app does. TensorFlow
  and most of OpenCV let go of Python's lock while they compute; the rest holds it.
- `process pool`: the session's thread sends the drawing (its strokes, a few KiB) to a pool of
  worker processes, one per core, each with the model loaded, and waits for the probabilities
  and the two pictures.
- `model server`: the drawing and the preprocessing stay on the session's thread; only the
  model call goes to a worker process (the 28x28 input there, probabilities and heat map back),
  as a local inference server would take it.
- `batched`: in-process, but one inference thread gathers the model calls of concurrent
  sessions and runs them as one batch ("dynamic batching" in TF Serving and Triton): up to
  `--max-batch` images, waiting at most `--batch-wait` ms for company once a call is waiting.

Printed per arrangement and N: strokes per second, p50 / p95 of one stroke, CPU per stroke (this
process and its worker processes) and the cores kept busy. Streamlit's own work per stroke (the
widgets, the script run, the websocket: about half of the app's CPU per stroke, `python -m
tests.load`) is not here: no arrangement of the model work moves it off the one process's lock,
which is why the app's way to use more cores is more processes behind nginx (`deploy/`).
Prints figures only.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import random
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np

from vision.heatmaps import enlarge, fit_for_display, overlay_heatmap
from vision.images import jpeg_data_url
from vision.preprocess import doodle_from_canvas
from vision.strokes import hand_stroke, render_strokes

# TensorFlow (vision.explain, vision.models) is imported where it is used: after
# vision.tensorflow_threads.set_defaults has set its thread counts.
MODEL = "doodle_cnn"
SIDE = 320       # the canvas's logical side (ui.widgets.CANVAS_SIDE)
PEN = 12         # the medium pen (ui.canvas.PEN_WIDTHS)
STROKES = 12     # a drawing is started again after this many strokes
BIG = 280        # the pictures' side on the page (pages/doodle.py)
DRAWINGS = 48    # drawings prepared once, cycled through by the sessions

_worker_state: dict = {}  # in a worker process: its model and explainer


# ---------------------------------------------------------------- the stroke's work
def drawings(count: int = DRAWINGS, seed: int = 0) -> list[dict]:
    """Canvas values (the strokes JSON the canvas sends) of drawings 1..STROKES strokes long:
    smooth wobbly strokes of 20-60 points inside the canvas, as a hand draws them."""
    rng, values, strokes = random.Random(seed), [], []
    for _ in range(count):
        if len(strokes) >= STROKES:
            strokes = []
        strokes.append({"width": PEN, "erase": False, "points": hand_stroke(rng, SIDE)})
        values.append({"side": SIDE, "strokes": list(strokes)})
    return values


def load(name: str = MODEL):
    """The model's explainer, warmed up."""
    from vision.explain import explainer_for
    from vision.models import load_model
    from vision.registry import get_spec

    spec = get_spec(name)
    explainer = explainer_for(load_model(name), spec, spec.cam_layer)
    explainer.warm_up()
    return explainer


def prepare(value: dict):
    """Drawing and preprocessing: the canvas value to the model's input (a Preprocessed)."""
    return doodle_from_canvas(render_strokes(value, SIDE))


def pictures(prepared, explanation) -> tuple[str, str]:
    """The two heat-map pictures the Doodle page sends, as JPEG data URLs."""
    input28 = prepared.model_input[..., 0].astype(np.uint8)
    crop = next(step.image for step in prepared.steps if step.name == "cropped")
    seen = overlay_heatmap(enlarge(input28, BIG), explanation.heatmap, 0.5)
    drawn = overlay_heatmap(fit_for_display(255 - crop, BIG),
                            prepared.heatmap_on_crop(explanation.heatmap, crop.shape[:2]), 0.5)
    return jpeg_data_url(seen), jpeg_data_url(drawn)


def whole_stroke(explainer, value: dict):
    """All of a stroke's work: (probabilities, the two pictures)."""
    prepared = prepare(value)
    explanation = explainer.explain(prepared.model_input)
    return explanation.probabilities, pictures(prepared, explanation)


# ---------------------------------------------------------------- worker processes
def _init_worker() -> None:
    from vision import tensorflow_threads

    tensorflow_threads.set_defaults()  # TensorFlow's and OpenCV's threads as in the app
    _worker_state["explainer"] = load()


def _worker_stroke(value: dict):
    return whole_stroke(_worker_state["explainer"], value)


def _worker_explain(model_input: np.ndarray):
    return _worker_state["explainer"].explain(model_input)


# ---------------------------------------------------------------- dynamic batching
class Batcher:
    """One inference thread that runs the waiting images of concurrent callers as one batch.
    `explain(image)` blocks until its own Explanation (predicted class) is ready. For CAM
    explainers (no gradients: one forward pass gives every image's map)."""

    def __init__(self, explainer, max_batch: int, wait_ms: float):
        if explainer.uses_gradients:
            raise ValueError("batching here is for CAM explainers: Grad-CAM needs each image's "
                             "own gradients")
        import keras
        import tensorflow as tf

        from vision.models import logits_tensor, symbolic_input

        model = explainer.model
        features_model = keras.Model(symbolic_input(model), [
            model.get_layer(explainer.layer_name).output, logits_tensor(model)])
        self._forward = tf.function(lambda x: features_model(x, training=False), input_signature=[
            tf.TensorSpec((None, *explainer.input_shape), tf.float32)])
        self._explainer, self._max, self._wait = explainer, max_batch, wait_ms / 1000
        self._queue: queue.Queue = queue.Queue()
        self.batches: list[int] = []
        for size in (1, max_batch):  # trace the batch dimension once
            self._forward(tf.zeros((size, *explainer.input_shape), tf.float32))
        threading.Thread(target=self._run, daemon=True).start()

    def explain(self, image: np.ndarray):
        done: Future = Future()
        self._queue.put((np.asarray(image, np.float32), done))
        return done.result()

    def _run(self) -> None:
        zeros = None
        while True:
            waiting = [self._queue.get()]
            deadline = time.perf_counter() + self._wait
            while len(waiting) < self._max:
                try:
                    waiting.append(self._queue.get(timeout=max(0.0, deadline - time.perf_counter())))
                except queue.Empty:
                    break
            self.batches.append(len(waiting))
            features, logits = (t.numpy() for t in self._forward(np.stack([w[0] for w in waiting])))
            if zeros is None:
                zeros = np.zeros_like(features[0])
            for i, (_, done) in enumerate(waiting):
                used = np.eye(logits.shape[1], dtype=np.float32)[int(np.argmax(logits[i]))]
                done.set_result(self._explainer.explanation(features[i], zeros, logits[i], used))


# ---------------------------------------------------------------- measuring
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--seconds", type=float, default=5.0, help="per arrangement and N")
    parser.add_argument("--workers", type=int, help="worker processes (default: the cores)")
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--batch-wait", type=float, default=2.0, help="milliseconds")
    args = parser.parse_args()
    from vision import tensorflow_threads

    tensorflow_threads.set_defaults()  # TensorFlow's and OpenCV's threads as in the app
    from vision.benchmark import sessions_at_once

    cores = tensorflow_threads.available_cores()
    workers = args.workers or cores
    values = drawings()
    explainer = load()
    for value in values[:3]:
        whole_stroke(explainer, value)
    batcher = Batcher(explainer, args.max_batch, args.batch_wait)

    def batched(value):
        prepared = prepare(value)
        explanation = batcher.explain(prepared.model_input)
        return explanation.probabilities, pictures(prepared, explanation)

    print(f"one Doodle stroke's work without Streamlit ({MODEL}), {args.seconds:g} s per cell, "
          f"{cores} cores, {workers} worker processes, load average {os.getloadavg()[0]:.1f}")
    print(f"{'arrangement':<15}{'N':>4}{'strokes/s':>11}{'p50 ms':>8}{'p95 ms':>8}"
          f"{'CPU ms/stroke':>15}{'cores used':>12}")

    def show(name: str, row: dict) -> None:
        print(f"{name:<15}{row['n']:>4}{row['rate']:>11.1f}{row['p50'] * 1e3:>8.1f}"
              f"{row['p95'] * 1e3:>8.1f}{row['cpu'] * 1e3:>15.1f}{row['cores']:>12.2f}", flush=True)

    for n in args.sessions:
        show("in-process", {"n": n, **sessions_at_once(lambda v: whole_stroke(explainer, v), n,
                                                        args.seconds, values)})
    for n in args.sessions:
        batcher.batches.clear()
        row = sessions_at_once(batched, n, args.seconds, values)
        show("batched", {"n": n, **row})
        sizes = batcher.batches or [0]
        print(f"{'':<15}     batches of {np.mean(sizes):.2f} images on average, "
              f"at most {max(sizes)}", flush=True)
    # spawned, not forked: a fork of a process whose TensorFlow threads run can deadlock
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker) as pool:
        for future in [pool.submit(_worker_stroke, values[0]) for _ in range(workers * 3)]:
            future.result()  # every worker has loaded the model and drawn once
        for n in args.sessions:
            show("process pool", {"n": n, **sessions_at_once(
                lambda v: pool.submit(_worker_stroke, v).result(), n, args.seconds, values)})

        def model_server(value):
            prepared = prepare(value)
            explanation = pool.submit(_worker_explain, prepared.model_input).result()
            return explanation.probabilities, pictures(prepared, explanation)

        for n in args.sessions:
            show("model server", {"n": n, **sessions_at_once(model_server, n, args.seconds,
                                                              values)})


if __name__ == "__main__":
    main()
