"""How many threads TensorFlow runs the app's predictions on, chosen once for the process.

TensorFlow sizes its two thread pools when it runs its first operation: the intra-op pool (the
threads that share the work of one operation, such as a convolution) and the inter-op pool (the
threads that run independent operations side by side). Left alone it sizes both from the
machine's core count, which is wrong for this app in two ways:
- in a container limited to 2 CPUs on a 64-core host, or with K replicas sharing one machine,
  each process would start 64 + 64 threads that all compete for the few cores it may use;
- the app's predictions are single images through small CNNs: one operation's work is too small
  to share among threads (sharing it costs more CPU than it saves: 40-55 ms of CPU per MobileNetV2
  prediction + Grad-CAM with one intra-op thread, 55-85 ms with two, on the 2-core machine), and
  the concurrency comes from the sessions themselves: each script thread's call releases Python's
  lock while TensorFlow computes, and a compiled call's operations run on the inter-op pool.
So the intra-op pool gets `INTRA_OP_THREADS` (1) and the inter-op pool one thread per core this
process may use (CPU affinity and a container's cgroup CPU quota), so that as many sessions as
there are cores compute at once, and no more. `python -m vision.benchmark_threads` measures the
choice against TensorFlow's default and others under concurrent predictions.

TensorFlow reads them from its own environment variables, `TF_NUM_INTRAOP_THREADS` and
`TF_NUM_INTEROP_THREADS`, so that is the way to override them (e.g. `TF_NUM_INTRAOP_THREADS=4`).
`ui/loaders.py`, the module that loads the app's models, calls `set_defaults` when it is imported,
before anything runs a TensorFlow operation. Training (`python -m vision.train`) keeps TensorFlow's
own counts: its large batches do gain from sharing each operation among the cores.

OpenCV, for the same reason, runs each of its operations on one thread in the app (the doodle
preprocessing on every stroke: 20 ms of CPU a stroke with OpenCV's default of one thread per core,
16 ms with one, on the 2-core machine); `OPENCV_FOR_THREADS_NUM`, OpenCV's own variable, overrides.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

INTRA_ENV = "TF_NUM_INTRAOP_THREADS"
INTER_ENV = "TF_NUM_INTEROP_THREADS"
INTRA_OP_THREADS = 1
OPENCV_ENV = "OPENCV_FOR_THREADS_NUM"
OPENCV_THREADS = 1


def available_cores(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The cores this process may use: its CPU affinity (`taskset`, a cpuset), capped by a
    cgroup CPU quota (`docker run --cpus`, compose's `cpus:`), rounded up; at least 1."""
    cores = len(os.sched_getaffinity(0))
    quota = cgroup_cpu_quota(cgroup)
    return max(1, min(cores, math.ceil(quota)) if quota else cores)


def cgroup_cpu_quota(cgroup: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs allowed by the cgroup's quota (v2 `cpu.max`, or v1's cfs files); None when unlimited
    or unreadable."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    if quota in ("max", "-1") or int(period) <= 0:
        return None
    return int(quota) / int(period)


def set_defaults() -> tuple[int, int]:
    """Set TensorFlow's pool sizes (and OpenCV's thread count) unless the environment already
    sets them; returns the
    (intra-op, inter-op) thread counts in effect. Must run before TensorFlow's first operation."""
    os.environ.setdefault(INTRA_ENV, str(INTRA_OP_THREADS))
    os.environ.setdefault(INTER_ENV, str(available_cores()))
    if OPENCV_ENV not in os.environ:  # OpenCV reads its own variable when it loads
        import cv2

        cv2.setNumThreads(OPENCV_THREADS)
    return thread_counts()


def thread_counts() -> tuple[int, int]:
    """The (intra-op, inter-op) thread counts TensorFlow uses in this process."""
    return int(os.environ[INTRA_ENV]), int(os.environ[INTER_ENV])
