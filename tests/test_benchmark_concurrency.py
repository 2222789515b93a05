"""The arrangements `python -m vision.benchmark_concurrency` compares must do the same work: the
batched model calls give each caller its own image's explanation (against the one-image call),
and the drawings it cycles through are real canvas values the preprocessing accepts."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from vision import benchmark_concurrency as bench
from vision.strokes import parse_strokes


@pytest.fixture(scope="module")
def explainer():
    return bench.load()


def test_drawings_are_canvas_values_that_grow_stroke_by_stroke():
    values = bench.drawings(count=30, seed=3)
    counts = [len(parse_strokes(value)) for value in values]
    assert counts[:bench.STROKES] == list(range(1, bench.STROKES + 1))
    assert counts[bench.STROKES] == 1  # a new drawing after STROKES strokes
    assert all(value["side"] == bench.SIDE for value in values)
    assert bench.drawings(count=5, seed=3) == values[:5]  # seeded: the same strokes every run


def test_batched_calls_give_each_caller_its_own_explanation(explainer):
    values = bench.drawings(count=12, seed=1)
    inputs = [bench.prepare(value).model_input for value in values]
    batcher = bench.Batcher(explainer, max_batch=4, wait_ms=50)
    results: dict[int, object] = {}

    def call(i: int) -> None:
        results[i] = batcher.explain(inputs[i])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(batcher.batches) > 1  # the concurrent calls did share batches
    assert max(batcher.batches) <= 4 and sum(batcher.batches) == len(inputs)
    for i, model_input in enumerate(inputs):
        alone = explainer.explain(model_input)
        assert results[i].class_index == alone.class_index
        np.testing.assert_allclose(results[i].probabilities, alone.probabilities, atol=1e-5)
        np.testing.assert_allclose(results[i].heatmap, alone.heatmap, atol=1e-4)


def test_a_whole_stroke_gives_probabilities_and_two_jpeg_pictures(explainer):
    probabilities, pictures = bench.whole_stroke(explainer, bench.drawings(count=6)[5])
    assert probabilities.shape == (explainer.num_classes,)
    assert abs(float(probabilities.sum()) - 1) < 1e-5
    assert len(pictures) == 2 and all(p.startswith("data:image/jpeg;base64,/9j/") for p in pictures)
