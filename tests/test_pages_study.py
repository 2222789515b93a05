"""App tests of the study pages (Model report, Mistakes map, Compare models, Playground, How a CNN
works) with Streamlit's AppTest, against a weights folder built for the tests.

The folder holds the shipped Fashion MLP (a trained network) and an *untrained* Fashion CNN
saved in seconds (the CAM paths), each with a report and an evaluation file made by the fixture,
whose mistakes, curves and embeddings are known; the other models are missing on purpose, to drive
the error paths. No assertion depends on what today's shipped weights scored. Clicks on Plotly charts are simulated by writing the chart's selection
state, exactly as the browser sends it.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from streamlit.testing.v1 import AppTest

from ui import loaders
from vision import registry
from vision.evaluation import Evaluation
from vision.history import overfitting
from vision.perturb import perturb

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "weights"
TIMEOUT = 90
NEEDED = ["fashion_mlp.keras", "fashion_samples.npz"]  # the rest is written by the fixture


# The test set of the fixture's evaluation: 60 images per class, and these mistakes
# (actual, predicted, count): Shirt as T-shirt is the most frequent, as it often is.
MISTAKES = [(6, 0, 20), (4, 2, 8), (2, 4, 5), (0, 6, 3)]
PER_CLASS = 60
# A history that overfits by construction: validation loss lowest at epoch 4, then rising.
HISTORY = {"loss": [1.0, 0.7, 0.55, 0.45, 0.38, 0.32, 0.27, 0.23],
           "val_loss": [0.95, 0.72, 0.6, 0.56, 0.58, 0.61, 0.65, 0.7],
           "accuracy": [0.6, 0.75, 0.8, 0.84, 0.87, 0.89, 0.91, 0.93],
           "val_accuracy": [0.6, 0.74, 0.79, 0.81, 0.81, 0.8, 0.8, 0.79]}


def fixture_evaluation() -> Evaluation:
    """A test-set evaluation with known mistakes, embeddings in one blob per kind of mistake, and
    the mistakes' pixels shipped inside, as training writes them for Fashion-MNIST."""
    rng = np.random.default_rng(0)
    y_true = np.repeat(np.arange(10), PER_CLASS)
    y_pred = y_true.copy()
    for actual, predicted, count in MISTAKES:
        y_pred[np.flatnonzero(y_true == actual)[:count]] = predicted
    wrong = np.flatnonzero(y_true != y_pred)
    pair = {(a, p): k for k, (a, p, _) in enumerate(MISTAKES)}
    centres = rng.normal(0, 6, (len(MISTAKES), 16))
    embeddings = np.stack([centres[pair[(y_true[i], y_pred[i])]] + rng.normal(0, 0.5, 16) for i in wrong])
    top3 = np.stack([y_pred, np.where(y_pred == y_true, (y_true + 1) % 10, y_true), (y_true + 2) % 10], 1)
    probabilities = np.where((y_pred == y_true)[:, None], [0.9, 0.07, 0.03], [0.6, 0.3, 0.1])
    pixels = rng.integers(0, 256, (len(wrong), 28, 28), dtype=np.uint8)
    return Evaluation(y_true, y_pred, top3, probabilities.astype(np.float32), wrong,
                      embeddings.astype(np.float32), loss=0.35, num_classes=10,
                      misclassified_images=pixels)


def fixture_report(name: str, model, evaluation: Evaluation) -> dict:
    """What training writes to MODEL.json, for the fixture's evaluation."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    spec = registry.get_spec(name)
    precision, recall, f1, support = precision_recall_fscore_support(
        evaluation.y_true, evaluation.y_pred, labels=range(10), zero_division=0)
    return {"model": name, "title": spec.title, "dataset": spec.dataset, "classes": list(spec.labels),
            "split_sizes": {"train": 5000, "val": 500, "test": len(evaluation.y_true)},
            "parameters": int(model.count_params()), "history": HISTORY,
            "epochs_run": len(HISTORY["loss"]), "best_epoch": 4, "training_seconds": 95.0,
            "test": {"loss": 0.35, "accuracy": float(np.mean(evaluation.y_true == evaluation.y_pred)),
                     "confusion_matrix": confusion_matrix(evaluation.y_true, evaluation.y_pred).tolist(),
                     "per_class": [{"class": c, "precision": float(p), "recall": float(r),
                                    "f1": float(f), "support": int(n)} for c, p, r, f, n in
                                   zip(spec.labels, precision, recall, f1, support)]}}


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory) -> Path:
    import keras

    missing = [f for f in NEEDED if not (SHIPPED / f).is_file()]
    assert not missing, f"shipped files missing: {missing}"
    folder = tmp_path_factory.mktemp("weights")
    for name in NEEDED:
        shutil.copy(SHIPPED / name, folder / name)
    evaluation = fixture_evaluation()
    # The MLP as shipped (a real, trained network to predict with) and an untrained Fashion CNN
    # (the CAM code paths), each with the fixture's report and evaluation: nothing asserted here
    # depends on what today's training produced.
    keras.utils.set_random_seed(0)
    cnn = registry.get_spec("fashion_cnn").build()
    cnn.save(folder / "fashion_cnn.keras")
    mlp = keras.saving.load_model(folder / "fashion_mlp.keras", compile=False)
    for name, model in (("fashion_mlp", mlp), ("fashion_cnn", cnn)):
        (folder / f"{name}.json").write_text(json.dumps(fixture_report(name, model, evaluation)))
        evaluation.save(folder / f"{name}_eval.npz")
    # A transfer model's report without weights or eval file: the fine-tuning mark, error paths.
    history = {"loss": [1.0, 0.6, 0.5, 0.4, 0.3], "val_loss": [0.9, 0.7, 0.6, 0.55, 0.5],
               "accuracy": [0.6, 0.8, 0.85, 0.9, 0.92], "val_accuracy": [0.6, 0.75, 0.8, 0.82, 0.84],
               "fine_tune_starts_at_epoch": [3]}
    facts = fixture_report("fashion_mlp", mlp, evaluation)
    flowers = dict(facts, model="flowers_mobilenet", title="Flowers MobileNetV2 (transfer)",
                   dataset="flowers", classes=list(registry.get_spec("flowers_mobilenet").labels),
                   history=history, epochs_run=5, best_epoch=5)
    flowers["test"] = dict(facts["test"], confusion_matrix=(np.eye(5, dtype=int) * 10).tolist(),
                           per_class=facts["test"]["per_class"][:5])
    (folder / "flowers_mobilenet.json").write_text(json.dumps(flowers))
    return folder


@pytest.fixture(scope="module", autouse=True)
def study_weights(weights_dir):
    """Point the registry at the test folder for this module; clear Streamlit's caches around."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry, "WEIGHTS_DIR", weights_dir)
        st.cache_data.clear()
        st.cache_resource.clear()
        yield weights_dir
    st.cache_data.clear()
    st.cache_resource.clear()


def app(page: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / page), default_timeout=TIMEOUT)


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def chart(at: AppTest, key: str) -> dict:
    """The Plotly figure (JSON) of the chart whose key ends the element id."""
    for element in at.get("plotly_chart"):
        if element.proto.id.endswith(key):
            return json.loads(element.proto.spec)
    raise AssertionError(f"no chart with key {key!r}")


def array(value) -> np.ndarray:
    """A Plotly data array, decoding the typed-array form (base64 `bdata`) Plotly uses for numpy."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.asarray(value)


def click(at: AppTest, key: str, point: dict) -> AppTest:
    """Simulate a click on a Plotly chart (selection_mode="points")."""
    at.session_state[key] = {"selection": {"points": [point], "point_indices": [0], "box": [],
                                           "lasso": []}}
    return ok(at.run())


# ---------------------------------------------------------------- Model report
def test_report_shows_the_json_figures_and_the_overfitting(weights_dir):
    at = ok(app("model_report.py").run())
    at.selectbox(key="report_model").set_value("fashion_mlp")
    ok(at.run())
    facts = json.loads((weights_dir / "fashion_mlp.json").read_text())
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Test accuracy"] == f"{facts['test']['accuracy']:.2%}"
    assert metrics["Parameters"] == f"{facts['parameters']:,}"
    verdict = overfitting(facts["history"])
    assert verdict.overfits and verdict.best_val_epoch == 4  # as the fixture's history says
    assert any(f"after epoch {verdict.best_val_epoch}" in w for w in texts(at.warning))
    table = at.dataframe[0].value
    assert list(table["class"]) == facts["classes"] and len(table) == 10


def test_report_cell_gallery_follows_the_picker_and_a_click(weights_dir):
    at = ok(app("model_report.py").run())
    at.selectbox(key="report_model").set_value("fashion_mlp")
    ok(at.run())
    labels = registry.get_spec("fashion_mlp").labels
    results = Evaluation.load(weights_dir / "fashion_mlp_eval.npz")
    at.selectbox(key="report_cell_fashion_mlp").set_value((6, 0))
    ok(at.run())
    assert "Actual Shirt, predicted as T-shirt/top" in texts(at.subheader)
    expected = int(np.sum((results.y_true == 6) & (results.y_pred == 0)))
    assert expected > 12
    assert len(at.image[0].value) == 12  # the gallery shows 12 at a time
    assert any(c.startswith(f"{expected} test images in this cell") for c in texts(at.caption))
    # A click on the cell (Coat, Pullover): the selection carries (actual, predicted) as customdata.
    a, p = labels.index("Coat"), labels.index("Pullover")
    click(at, "report_matrix_fashion_mlp", {"x": "Pullover", "y": "Coat", "point_index": a * 10 + p,
                                             "customdata": [a, p, 0, 0]})
    assert "Actual Coat, predicted as Pullover" in texts(at.subheader)
    assert at.selectbox(key="report_cell_fashion_mlp").value == (a, p)  # the picker follows
    shown = min(12, int(np.sum((results.y_true == a) & (results.y_pred == p))))
    assert len(at.image[0].value) == shown
    # The picker still works after the click.
    at.selectbox(key="report_cell_fashion_mlp").set_value((8, 8))
    ok(at.run())
    assert "Actual Bag, predicted as Bag" in texts(at.subheader)


def test_report_cam_gallery_and_diagonal_without_the_dataset(monkeypatch):
    at = ok(app("model_report.py").run())
    at.selectbox(key="report_model").set_value("fashion_cnn")
    ok(at.run())
    assert at.toggle(key="report_show_cam").value is True
    overlays = at.image[0].value
    assert len(overlays) == 12 and not any("could not" in w for w in texts(at.warning))
    assert all(c.startswith("#") for c in at.image[0].captions)
    at.toggle(key="report_show_cam").set_value(False)
    ok(at.run())
    plain = at.image[0].value
    # the pictures with the toggle on are heat maps, not the plain images a failed CAM falls back to
    assert len(plain) == 12 and not set(plain) & set(overlays)
    at.toggle(key="report_show_cam").set_value(True)
    ok(at.run())
    assert at.image[0].value == overlays  # and the same maps again
    from vision import data

    monkeypatch.setattr(data, "fashion_mnist_dir", lambda: None)
    st.cache_resource.clear()  # the test-image finder, cached with the dataset
    at.selectbox(key="report_cell_fashion_cnn").set_value((1, 1))
    ok(at.run())
    assert "Actual Trouser, predicted as Trouser" in texts(at.subheader)
    # the fixture's evaluation has no thumbnails (tests/test_bare_clone.py checks those)
    assert any("not shipped" in i for i in texts(at.info))


def test_report_missing_files_give_plain_messages():
    at = ok(app("model_report.py").run())
    at.selectbox(key="report_model").set_value("doodle_cnn")
    ok(at.run())
    assert any("not trained yet" in w for w in texts(at.warning))
    at.selectbox(key="report_model").set_value("flowers_mobilenet")
    ok(at.run())  # report present, eval file and weights missing
    assert any("fine-tuned" in c for c in texts(at.caption))
    assert any("flowers_mobilenet_eval.npz is missing" in w for w in texts(at.warning))
    assert texts(at.metric)[0] != ""


# ---------------------------------------------------------------- Mistakes map
def test_mistakes_silhouette_equals_sklearn(weights_dir):
    at = ok(app("mistakes.py").run())
    at.selectbox(key="mistakes_model").set_value("fashion_mlp")
    at.slider(key="mistakes_k").set_value(4)
    ok(at.run())
    embeddings = Evaluation.load(weights_dir / "fashion_mlp_eval.npz").embeddings.astype(np.float64)
    reduced = PCA(n_components=min(20, *embeddings.shape), random_state=0).fit_transform(
        StandardScaler().fit_transform(embeddings))
    labels = KMeans(n_clusters=4, n_init=10, random_state=0).fit_predict(reduced)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Silhouette score"] == f"{silhouette_score(reduced, labels):.3f}"
    assert metrics["Clusters"] == "4"
    assert len([e for e in at.expander if e.label.startswith("Cluster ")]) == 4
    predicted = {f"Misclassified as {registry.get_spec('fashion_mlp').labels[c]}"
                 for c in np.unique(Evaluation.load(weights_dir / "fashion_mlp_eval.npz").y_pred[
                     Evaluation.load(weights_dir / "fashion_mlp_eval.npz").misclassified])}
    assert predicted == {e.label.split(":")[0] for e in at.expander if e.label.startswith("Misc")}
    # Clicking a point shows that mistake beside the map.
    click(at, "mistakes_map_fashion_mlp", {"x": 0, "y": 0, "customdata": 7})
    index = int(Evaluation.load(weights_dir / "fashion_mlp_eval.npz").misclassified[7])
    assert any(f"Test image #{index}" in m for m in texts(at.markdown))


def test_mistakes_dbscan_and_missing_eval():
    at = ok(app("mistakes.py").run())
    at.radio(key="mistakes_method").set_value("DBSCAN")
    ok(at.run())
    assert at.slider(key="mistakes_eps_fashion_mlp").value > 0
    suggestion = next(b.label for b in at.button if b.key == "mistakes_suggest_eps")
    at.slider(key="mistakes_min_samples").set_value(3)
    ok(at.run())
    label = next(b.label for b in at.button if b.key == "mistakes_suggest_eps")
    assert "3 min samples" in label and label != suggestion
    at.button(key="mistakes_suggest_eps").click()
    ok(at.run())
    suggested = float(label.rsplit("(", 1)[1].rstrip(")"))
    assert at.slider(key="mistakes_eps_fashion_mlp").value == pytest.approx(suggested, abs=0.011)
    at.selectbox(key="mistakes_model").set_value("doodle_cnn")
    ok(at.run())
    assert any("doodle_cnn_eval.npz is missing" in w for w in texts(at.warning))


# ---------------------------------------------------------------- Compare models
def keras_top1(path: Path, x: np.ndarray) -> str:
    """The top class of one image for a model file, read by Keras itself."""
    import keras

    model = keras.saving.load_model(path, compile=False)
    return registry.get_spec(path.stem).labels[int(np.argmax(model(x[None], training=False)[0]))]


def test_compare_one_column_per_model(weights_dir, monkeypatch):
    at = ok(app("compare.py").run())
    at.selectbox(key="compare_fashion_mnist_sample").set_value(6)  # a trouser
    ok(at.run())
    titles = [s.title for s in registry.models_for_dataset("fashion_mnist")]
    assert texts(at.subheader) == titles
    assert any("Fashion deep CNN is not trained yet" in w for w in texts(at.warning))
    answers = [m for m in texts(at.markdown) if m.startswith("Top answer")]
    assert len(answers) == 2  # the MLP and the (untrained) CNN
    # Each column's answer and the note, against the two models run here on the same sample.
    with np.load(weights_dir / "fashion_samples.npz") as samples:
        x = samples["images"][6].astype(np.float32)[..., None]
    expected = [keras_top1(weights_dir / f"{name}.keras", x) for name in ("fashion_mlp", "fashion_cnn")]
    assert [a.split("**")[1] for a in answers] == expected
    if len(set(expected)) > 1:
        assert any(w.startswith("The models disagree") for w in texts(at.warning)) and not at.success
    else:
        assert texts(at.success) == [f"All 2 models agree: **{expected[0]}**."]
    assert [c for i in at.image for c in i.captions][-1].startswith(f"CAM of {expected[1]}")

    pictures = (np.random.default_rng(3).uniform(0, 255, (2, 224, 224, 3))).astype(np.uint8)
    monkeypatch.setattr(loaders, "samples", lambda dataset: [(p, f"photo_{i}.jpg", "daisy")
                                                             for i, p in enumerate(pictures)])
    at.radio(key="compare_dataset").set_value("flowers")
    ok(at.run())
    assert texts(at.subheader) == [s.title for s in registry.models_for_dataset("flowers")]
    assert any("None of these models is trained yet" in e for e in texts(at.error))


def png(pixels: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_compare_bad_uploads_give_one_plain_message():
    at = ok(app("compare.py").run())
    at.radio(key="compare_fashion_mnist_source").set_value("Upload a photo")
    ok(at.run())
    at.file_uploader(key="compare_fashion_mnist_upload").set_value(
        ("blank.png", png(np.full((64, 64, 3), 200, np.uint8)), "image/png"))
    ok(at.run())
    assert not at.error and any("nothing here" in i for i in texts(at.info))
    assert texts(at.subheader) == ["Nothing here"]  # no model columns for a blank picture
    at.file_uploader(key="compare_fashion_mnist_upload").set_value(("notes.png", b"hello", "image/png"))
    ok(at.run())
    assert len(at.error) == 1 and "not an image" in at.error[0].value


def test_compare_uses_the_doodle_canvas():
    at = app("compare.py")
    canvas = np.zeros((200, 200, 4), np.uint8)
    canvas[40:160, 95:105] = (0, 0, 0, 255)  # a black stroke on a transparent canvas
    at.session_state["doodle_canvas"] = canvas
    at.session_state["compare_dataset"] = "quickdraw"
    ok(at.run())
    assert at.radio(key="compare_quickdraw_source").value == "Current drawing"
    assert texts(at.subheader) == ["Doodle CNN"]
    assert any("Doodle CNN is not trained yet" in w for w in texts(at.warning))


# ---------------------------------------------------------------- Playground
def prediction_text(at: AppTest) -> str:
    return next(m for m in texts(at.markdown) if m.startswith("**Prediction:**"))


def test_playground_recomputes_on_rotation(weights_dir):
    from vision.models import Predictor

    at = ok(app("playground.py").run())
    at.selectbox(key="playground_model").set_value("fashion_mlp")
    ok(at.run())
    at.selectbox(key="playground_fashion_mnist_sample").set_value(5)  # a trouser
    ok(at.run())
    upright = prediction_text(at)
    at.slider(key="playground_rotate").set_value(90)
    ok(at.run())
    rotated = prediction_text(at)
    with np.load(weights_dir / "fashion_samples.npz") as samples:
        image = samples["images"][5]
    predictor = Predictor.load("fashion_mlp")
    top = predictor.top_k(perturb(image.astype(np.float32), rotate_deg=90)[..., None], k=1)
    assert rotated.startswith(f"**Prediction:** {top.label} ({top.probability:.1%})")
    assert rotated != upright
    at.button(key="playground_reset").click()
    ok(at.run())
    assert prediction_text(at) == upright and at.slider(key="playground_rotate").value == 0


def test_playground_cam_occlusion_and_rotation_sweep():
    at = ok(app("playground.py").run())
    assert at.selectbox(key="playground_model").value == "fashion_cnn"  # the default
    at.checkbox(key="playground_occlude").check()
    ok(at.run())
    assert any(c.startswith("CAM of") for i in at.image for c in i.captions)
    at.button(key="playground_occlusion_button").click()
    ok(at.run())
    figure = chart(at, "playground_occlusion_chart")
    assert figure["data"][1]["type"] == "heatmap" and array(figure["data"][1]["z"]).shape == (28, 28)
    at.button(key="playground_rotation_button").click()
    ok(at.run())
    figure = chart(at, "playground_rotation_chart")
    assert array(figure["data"][0]["x"]).tolist() == list(range(-180, 181, 10))


def test_playground_missing_weights_message():
    at = ok(app("playground.py").run())
    at.selectbox(key="playground_model").set_value("flowers_scratch")
    ok(at.run())
    assert any("Flowers CNN (from scratch) is not trained yet" in w for w in texts(at.warning))


# ---------------------------------------------------------------- How a CNN works
def map_text(at: AppTest, key: str) -> list[list[str]]:
    return array(chart(at, key)["data"][-1]["text"]).tolist()  # the numbers: the top layer


def test_walkthrough_numbers_shapes_and_flips():
    at = ok(app("how_cnn_works.py").run())
    first = map_text(at, "cnn_conv_map")
    assert first[0][0] == "0.77"  # 7/9 truncated, not rounded to 0.78
    full = map_text(at, "cnn_conv_diagonal \\")
    assert len(full) == 7 and full[0][0] == "0.77" and full[1][1] == "1.00"
    captions = " ".join(texts(at.caption))
    for shape in ("7×7 convolution", "4×4 after pooling", "2×2 after the second pooling"):
        assert shape in captions
    assert "The network says **X**" in texts(at.success)[0]
    # Flip the pixel at row 2, column 2 (an arm of the X): the first map changes.
    at.selectbox(key="cnn_flip_row").set_value(2)
    at.selectbox(key="cnn_flip_col").set_value(2)
    at.button(key="cnn_flip").click()
    ok(at.run())
    assert map_text(at, "cnn_conv_diagonal \\")[0][0] != "0.77"
    # A click on the picture flips a pixel too (the chart's key changes after each flip).
    version = at.session_state["cnn_grid_version"]
    click(at, f"cnn_grid_{version}", {"x": 1, "y": 1, "customdata": [1, 1]})
    assert map_text(at, "cnn_conv_diagonal \\")[0][0] == "0.77"
    at.button(key="cnn_reset_o").click()
    ok(at.run())
    assert "The network says **O**" in texts(at.success)[0]
    at.button(key="cnn_next").click()
    ok(at.run())
    assert at.slider(key="cnn_step").value == 2


def test_walkthrough_real_first_layer():
    at = ok(app("how_cnn_works.py").run())
    captions = texts(at.caption)
    assert "after convolution: 28×28" in captions and "after max pooling: 14×14" in captions
    import keras

    first = next(layer for layer in keras.saving.load_model(
        registry.get_spec("fashion_cnn").weights_path, compile=False).layers
        if isinstance(layer, keras.layers.Conv2D))
    size = first.kernel_size
    assert f"Filter 1 of {first.filters} ({size[0]}×{size[1]} weights)" in captions
    at.slider(key="cnn_real_filter").set_value(first.filters)
    ok(at.run())
    assert f"Filter {first.filters} of {first.filters} ({size[0]}×{size[1]} weights)" in texts(at.caption)


# ---------------------------------------------------------------- the figure helpers
def test_clicked_cell_reads_every_form_the_browser_sends():
    from ui.charts import clicked_cell, clicked_custom

    labels = ["a", "b", "c"]
    def event(point):
        return {"selection": {"points": [point]}}
    assert clicked_cell(event({"customdata": [2, 0, 5, 0.1]}), labels) == (2, 0)
    assert clicked_cell(event({"customdata": {"0": 1, "1": 2, "2": 3}}), labels) == (1, 2)  # typed array
    assert clicked_cell(event({"x": "c", "y": "a"}), labels) == (0, 2)
    assert clicked_cell(event({"point_index": 5}), labels) == (1, 2)
    assert clicked_cell({"selection": {"points": []}}, labels) is None
    assert clicked_cell(None, labels) is None
    assert clicked_custom(event({"customdata": {"0": 4, "1": 7}})) == [4, 7]
    assert clicked_custom(event({"customdata": 3})) == 3


def test_confusion_figure_has_one_clickable_point_per_cell():
    from ui.charts import confusion_figure

    matrix = np.array([[5, 1, 0], [2, 7, 0], [0, 0, 9]])
    figure = confusion_figure(matrix, ["a", "b", "c"], selected=(1, 0))
    cells = figure.data[1]
    assert cells.type == "scatter" and len(cells.x) == 9
    assert list(cells.text) == ["5", "1", "0", "2", "7", "0", "0", "0", "9"]
    assert cells.customdata[3][:2] == [1, 0] and figure.layout.shapes  # the chosen cell is outlined


def test_report_offers_its_curves_and_confusion_matrix_as_png():  # issue 13: take it home
    at = ok(app("model_report.py").run())
    at.selectbox(key="report_model").set_value("fashion_mlp")
    ok(at.run())
    labels = [button.proto.label for button in at.get("download_button")]
    assert labels.count("Figure (PNG)") == 3, labels  # loss, accuracy, confusion matrix
