"""App tests of the study pages (Model report, Mistakes map, Compare models, Playground, How a CNN
works) with Streamlit's AppTest, against a weights folder built for the tests.

The folder holds copies of the shipped Fashion MLP files (trained) and an *untrained* Fashion CNN
saved in seconds, with a report and evaluation file borrowed from the MLP, so that the CAM paths
run whatever the background training has finished; the other models are missing on purpose, to
drive the error paths. Clicks on Plotly charts are simulated by writing the chart's selection
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

from vision import registry
from vision.evaluation import Evaluation
from vision.history import overfitting
from vision.perturb import perturb

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "weights"
TIMEOUT = 90
NEEDED = ["fashion_mlp.keras", "fashion_mlp.json", "fashion_mlp_eval.npz", "fashion_samples.npz"]


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory) -> Path:
    missing = [f for f in NEEDED if not (SHIPPED / f).is_file()]
    assert not missing, f"shipped weights missing: {missing}"
    folder = tmp_path_factory.mktemp("weights")
    for name in NEEDED:
        shutil.copy(SHIPPED / name, folder / name)
    # An untrained Fashion CNN: the CAM code paths, without waiting for training.
    import keras

    keras.utils.set_random_seed(0)
    model = registry.get_spec("fashion_cnn").build()
    model.save(folder / "fashion_cnn.keras")
    facts = json.loads((SHIPPED / "fashion_mlp.json").read_text())
    facts.update(model="fashion_cnn", title="Fashion CNN (CAM)", parameters=int(model.count_params()))
    (folder / "fashion_cnn.json").write_text(json.dumps(facts))
    shutil.copy(SHIPPED / "fashion_mlp_eval.npz", folder / "fashion_cnn_eval.npz")
    # A transfer model's report without weights or eval file: the fine-tuning mark, error paths.
    history = {"loss": [1.0, 0.6, 0.5, 0.4, 0.3], "val_loss": [0.9, 0.7, 0.6, 0.55, 0.5],
               "accuracy": [0.6, 0.8, 0.85, 0.9, 0.92], "val_accuracy": [0.6, 0.75, 0.8, 0.82, 0.84],
               "fine_tune_starts_at_epoch": [3]}
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
    assert verdict.overfits  # the MLP's validation loss turns up at epoch 25
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
    assert len(at.image[0].value) == 12  # overlays computed, no exception
    from vision import data

    monkeypatch.setattr(data, "fashion_mnist_dir", lambda: None)
    st.cache_resource.clear()  # the test-image finder, cached with the dataset
    at.selectbox(key="report_cell_fashion_cnn").set_value((1, 1))
    ok(at.run())
    assert "Actual Trouser, predicted as Trouser" in texts(at.subheader)
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
    reduced = PCA(n_components=20, random_state=0).fit_transform(
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
    at.button(key="mistakes_suggest_eps").click()
    ok(at.run())
    at.selectbox(key="mistakes_model").set_value("doodle_cnn")
    ok(at.run())
    assert any("doodle_cnn_eval.npz is missing" in w for w in texts(at.warning))


# ---------------------------------------------------------------- Compare models
def test_compare_one_column_per_model():
    at = ok(app("compare.py").run())
    at.selectbox(key="compare_fashion_mnist_sample").set_value(6)  # a trouser
    ok(at.run())
    titles = [s.title for s in registry.models_for_dataset("fashion_mnist")]
    assert texts(at.subheader) == titles
    assert any("Fashion deep CNN is not trained yet" in w for w in texts(at.warning))
    answers = [m for m in texts(at.markdown) if m.startswith("Top answer")]
    assert len(answers) == 2  # the MLP and the (untrained) CNN
    # The disagreement note and the answers agree with each other.
    labels = [a.split("**")[1] for a in answers]
    if len(set(labels)) > 1:
        assert any(w.startswith("The models disagree") for w in texts(at.warning))
    else:
        assert any("models agree" in s for s in texts(at.success))
    assert len(at.image) >= 2  # the input, and the CNN's CAM

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
    assert len(at.error) == 1 and "could not find an object" in at.error[0].value
    assert texts(at.subheader) == []  # no model columns for a picture that cannot be used
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
