"""The app's TensorFlow thread pools are sized by vision.tensorflow_threads when ui.loaders (what
loads the models) is imported, before TensorFlow's first operation; the environment overrides them."""

import os
import subprocess
import sys

import pytest

from vision import tensorflow_threads

# A fresh process: imports the app's model loaders, runs one operation, then counts TensorFlow's
# inter-op pool threads (named tf_Compute) and prints what the variables say.
PROBE = """
import os
import ui.loaders, tensorflow as tf
tf.nn.conv2d(tf.zeros((1, 32, 32, 3)), tf.zeros((3, 3, 3, 8)), 1, "SAME").numpy()
names = [open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")]
print(os.environ["TF_NUM_INTRAOP_THREADS"], os.environ["TF_NUM_INTEROP_THREADS"],
      names.count("tf_Compute"))
"""


def probe(pin_to_one_core: bool = False, **env: str) -> list[int]:
    """(intra-op, inter-op) as the variables say, and the inter-op pool's size, in a fresh
    process whose environment sets neither variable unless `env` does."""
    clean = {k: v for k, v in os.environ.items()
             if k not in (tensorflow_threads.INTRA_ENV, tensorflow_threads.INTER_ENV)}
    command = [sys.executable, "-c", PROBE]
    if pin_to_one_core:
        command = ["taskset", "-c", "0", *command]
    out = subprocess.run(command, env={**clean, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
                         capture_output=True, text=True, check=True).stdout
    return [int(n) for n in out.split()]


def test_the_app_s_loaders_set_one_intra_op_thread_and_an_inter_op_thread_per_core():
    intra, inter, pool = probe()
    assert (intra, inter) == (1, tensorflow_threads.available_cores())
    assert pool == inter  # TensorFlow made its inter-op pool of that size


def test_pinned_to_one_core_the_inter_op_pool_has_one_thread():
    assert probe(pin_to_one_core=True) == [1, 1, 1]


def test_the_environment_overrides_both_counts():
    assert probe(TF_NUM_INTRAOP_THREADS="2", TF_NUM_INTEROP_THREADS="3") == [2, 3, 3]


@pytest.mark.parametrize("cpu_max, expected", [
    ("max 100000\n", None),
    ("200000 100000\n", 2.0),
    ("150000 100000\n", 1.5),
])
def test_the_cgroup_v2_quota_is_read(tmp_path, cpu_max, expected):
    (tmp_path / "cpu.max").write_text(cpu_max)
    assert tensorflow_threads.cgroup_cpu_quota(tmp_path) == expected


def test_a_fractional_quota_rounds_up_and_never_exceeds_the_affinity(tmp_path):
    (tmp_path / "cpu.max").write_text("50000 100000\n")  # half a CPU
    assert tensorflow_threads.available_cores(tmp_path) == 1
    (tmp_path / "cpu.max").write_text(f"{1000 * 100000} 100000\n")  # more CPUs than the machine has
    assert tensorflow_threads.available_cores(tmp_path) == len(os.sched_getaffinity(0))


def test_the_cgroup_v1_quota_is_read_and_no_cgroup_means_no_quota(tmp_path):
    assert tensorflow_threads.cgroup_cpu_quota(tmp_path) is None
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert tensorflow_threads.cgroup_cpu_quota(tmp_path) == 3.0
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert tensorflow_threads.cgroup_cpu_quota(tmp_path) is None


OPENCV_PROBE = "import ui.loaders, cv2; print(cv2.getNumThreads())"


@pytest.mark.parametrize("env, expected", [({}, 1), ({"OPENCV_FOR_THREADS_NUM": "3"}, 3)])
def test_the_app_s_loaders_give_opencv_one_thread_unless_its_variable_says(env, expected):
    clean = {k: v for k, v in os.environ.items() if k != tensorflow_threads.OPENCV_ENV}
    out = subprocess.run([sys.executable, "-c", OPENCV_PROBE],
                         env={**clean, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
                         capture_output=True, text=True, check=True).stdout
    assert int(out.split()[-1]) == expected
