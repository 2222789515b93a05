"""TensorFlow's thread counts under concurrent predictions: `python -m vision.benchmark_threads`.

Each setting of (intra-op, inter-op) threads runs in a fresh process (TensorFlow sizes its pools
once). In it, N Python threads, as N sessions' script threads would, each do a stroke's model work
over and over for `--seconds`: one prediction and the heat map of its top class, on the doodle
CNN (28x28, CAM) and on the Flowers MobileNetV2 (224x224, Grad-CAM). Printed per setting, model
and N: calls per second, the p50 / p95 of one call, the process's CPU time per call and the
cores it kept busy (CPU time / wall time).
The settings: what `vision.tensorflow_threads` chooses, TensorFlow's default for this machine,
one thread each, and 16 + 16 (what TensorFlow's default gives a container limited to 2 CPUs on a
16-core host). Prints figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from vision import tensorflow_threads

MODELS = ("doodle_cnn", "flowers_mobilenet")


def worker(concurrency: list[int], seconds: float) -> None:
    """In this process (its thread counts set by the environment): one JSON line per model and N."""
    import numpy as np

    from vision.benchmark import sessions_at_once
    from vision.explain import explainer_for
    from vision.models import Predictor
    from vision.registry import get_spec

    for name in MODELS:
        spec = get_spec(name)
        predictor = Predictor.load(name)
        explainer = explainer_for(predictor.model, spec, None)
        explainer.warm_up()
        images = np.random.default_rng(0).uniform(0, 255, (64, *spec.input_shape)).astype(np.float32)

        def stroke(image: np.ndarray) -> None:
            probabilities = predictor.probabilities(image)
            explainer.explain(image, int(np.argmax(probabilities)))

        for _ in range(3):
            stroke(images[0])
        for n in concurrency:
            row = sessions_at_once(stroke, n, seconds, images)
            print(json.dumps({"model": name, "n": n, **row}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 16],
                        help="concurrent Python threads calling the model")
    parser.add_argument("--seconds", type=float, default=3.0, help="per model and level")
    parser.add_argument("--settings", nargs="+", metavar="INTRA,INTER",
                        help="thread counts to compare instead of the four above, e.g. 1,1 2,1")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.sessions, args.seconds)
        return
    cores = tensorflow_threads.available_cores()
    settings = {
        f"chosen ({tensorflow_threads.INTRA_OP_THREADS}, {cores})":
            (tensorflow_threads.INTRA_OP_THREADS, cores),
        f"TF default here ({os.cpu_count()}, {os.cpu_count()})": (0, 0),
        "one each (1, 1)": (1, 1),
        "16-core host's default (16, 16)": (16, 16),
    }
    if args.settings:
        settings = {f"({pair})": tuple(int(n) for n in pair.split(",")) for pair in args.settings}
    print(f"one stroke's model work (prediction + heat map), {args.seconds:g} s per cell, "
          f"{cores} cores available, load average {os.getloadavg()[0]:.1f}")
    print(f"{'threads (intra, inter)':<34}{'model':<19}{'N':>4}{'calls/s':>9}{'p50 ms':>8}"
          f"{'p95 ms':>8}{'CPU ms/call':>12}{'cores used':>11}")
    for label, (intra, inter) in settings.items():
        env = {key: value for key, value in os.environ.items()
               if key not in (tensorflow_threads.INTRA_ENV, tensorflow_threads.INTER_ENV)}
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        if intra:  # 0: TensorFlow's own default (vision would set its own without the variables)
            env[tensorflow_threads.INTRA_ENV], env[tensorflow_threads.INTER_ENV] = str(intra), str(inter)
        else:
            env[tensorflow_threads.INTRA_ENV] = env[tensorflow_threads.INTER_ENV] = "0"
        run = subprocess.run([sys.executable, "-m", "vision.benchmark_threads", "--worker",
                              "--seconds", str(args.seconds), "--sessions", *map(str, args.sessions)],
                             env=env, capture_output=True, text=True)
        if run.returncode != 0:  # say which setting failed and why, then go on with the others
            print(f"{label:<34}failed: {run.stderr.strip().splitlines()[-1:]}")
            continue
        for line in run.stdout.splitlines():
            row = json.loads(line)
            print(f"{label:<34}{row['model']:<19}{row['n']:>4}{row['rate']:>9.1f}"
                  f"{row['p50'] * 1e3:>8.1f}{row['p95'] * 1e3:>8.1f}{row['cpu'] * 1e3:>12.1f}"
                  f"{row['cores']:>11.2f}")


if __name__ == "__main__":
    main()
