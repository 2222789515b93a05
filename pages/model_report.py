"""Model report: how a model trained (loss and accuracy per epoch, where it starts to overfit), its
test confusion matrix (click a cell to see those test images with their heat maps), the
per-class precision / recall / F1 table and the headline figures."""

import logging

import numpy as np
import pandas as pd
import streamlit as st

from ui import charts, downloads, loaders
from vision import registry
from vision.errors import VisionLabError
from vision.heatmaps import overlay_heatmap
from vision.evaluation import cell_order
from vision.history import curves, fine_tune_epoch, overfitting
from vision.preprocess import dataset_image_input

GALLERY_SIZE = 12  # test images shown at a time for one cell
log = logging.getLogger("vision_lab")


def _duration(seconds: float) -> str:
    minutes = seconds / 60
    if minutes < 1:
        return f"{seconds:.0f} s"
    if minutes < 60:
        return f"{minutes:.1f} min"
    return f"{int(minutes // 60)} h {int(minutes % 60)} min"


def _cell_label(cell: tuple[int, int], matrix: np.ndarray, labels: tuple[str, ...]) -> str:
    actual, predicted = cell
    verdict = "correct" if actual == predicted else "mistake"
    return (f"Actual {labels[actual]}, predicted as {labels[predicted]}: "
            f"{int(matrix[actual, predicted])} images ({verdict})")


def show_metrics(facts: dict) -> None:
    accuracy, parameters, time, epochs = st.columns(4)
    accuracy.metric("Test accuracy", f"{facts['test']['accuracy']:.2%}",
                    help=f"On {facts.get('split_sizes', {}).get('test', 'all the')} test images "
                         "the model never saw during training.")
    parameters.metric("Parameters", f"{facts['parameters']:,}")
    time.metric("Training time", _duration(float(facts.get("training_seconds", 0.0))))
    best = facts.get("best_epoch")
    epochs.metric("Epochs", f"{facts.get('epochs_run', '?')}",
                  help=f"Early stopping kept the weights of epoch {best}, the best validation "
                       "accuracy." if best else None)


def show_curves(history: dict) -> None:
    st.subheader("Training curves")
    series = curves(history)
    if not series:
        st.info("This model's training history is empty.")
        return
    verdict = overfitting(history)
    fine_tune = fine_tune_epoch(history)
    left, right = st.columns(2)
    marks = dict(best_val_epoch=verdict.best_val_epoch, overfits=verdict.overfits,
                 fine_tune_epoch=fine_tune)
    left.plotly_chart(charts.curves_figure(series, "loss", **marks), key="report_loss_chart")
    right.plotly_chart(charts.curves_figure(series, "accuracy", **marks), key="report_accuracy_chart")
    downloads.figure_download(charts.curves_figure(series, "loss", **marks), f"{name}_loss", "report_loss_png", left)
    downloads.figure_download(charts.curves_figure(series, "accuracy", **marks), f"{name}_accuracy", "report_accuracy_png", right)
    (st.warning if verdict.overfits else st.info)(verdict.message, icon=":material/insights:")
    if fine_tune is not None:
        st.caption(f"Epochs 1 to {fine_tune - 1} train only the new classifier on top of the frozen "
                   f"pretrained network; from epoch {fine_tune} its top blocks are fine-tuned too, "
                   "with a smaller learning rate.")


def chosen_cell(name: str, matrix: np.ndarray, labels: tuple[str, ...]) -> tuple[int, int]:
    """The cell to show: a click on the matrix updates the pair picker, which is the source."""
    chart_key, cell_key, last_key = (f"report_matrix_{name}", f"report_cell_{name}",
                                     f"report_last_click_{name}")
    clicked = charts.clicked_cell(st.session_state.get(chart_key), labels)
    if clicked is not None and clicked != st.session_state.get(last_key):
        st.session_state[last_key] = clicked
        st.session_state[cell_key] = clicked
    cells = cell_order(matrix)
    chart_area = st.container()
    cell = st.selectbox("Confusion-matrix cell (actual, predicted)", cells, key=cell_key,
                        format_func=lambda c: _cell_label(c, matrix, labels),
                        help="The mistakes come first, most frequent first.")
    with chart_area:
        st.plotly_chart(charts.confusion_figure(matrix, labels, selected=cell), key=chart_key,
                        on_select="rerun", selection_mode="points")
        downloads.figure_download(charts.confusion_figure(matrix, labels, selected=cell), f"{name}_confusion_matrix", f"report_matrix_png_{name}")
    return cell


def _heat_maps(name: str, method: str, images: list[np.ndarray],
               class_index: int) -> list[np.ndarray] | None:
    with st.spinner(f"Computing the {method} heat maps..."):
        maps = [loaders.heat_map(name, dataset_image_input(image).model_input, class_index)
                for image in images]
    if any(heat is None for heat in maps):
        return None
    return [overlay_heatmap(image, heat) for image, heat in zip(images, maps)]


def show_cell(name: str, cell: tuple[int, int], labels: tuple[str, ...]) -> None:
    actual, predicted = cell
    st.subheader(f"Actual {labels[actual]}, predicted as {labels[predicted]}")
    try:
        results = loaders.evaluation(name)
    except VisionLabError as err:
        st.warning(str(err))
        return
    indices = results.cell(actual, predicted)
    if len(indices) == 0:
        st.info("No test image is in this cell.")
        return
    pages = int(np.ceil(len(indices) / GALLERY_SIZE))
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1,
                                   key=f"report_page_{name}_{actual}_{predicted}"))
    shown = indices[(page - 1) * GALLERY_SIZE:page * GALLERY_SIZE]
    first = (page - 1) * GALLERY_SIZE + 1
    st.caption(f"{len(indices)} test images in this cell; showing {first} to {first + len(shown) - 1} "
               f"({GALLERY_SIZE} at most at a time).")

    finder = loaders.test_images(name)
    pixels = finder.images(shown)
    found = [(i, p) for i, p in zip(shown, pixels) if p is not None]
    if not found:
        st.info(finder.missing_message() or "These test images are not available here.")
        return
    if len(found) < len(shown):
        st.caption(finder.missing_message() or "Some of these test images are not available here.")
    note = finder.thumbnail_note(shown)
    if note:
        st.caption(note)
    images = [p for _, p in found]
    spec = registry.get_spec(name)
    method = None
    if spec.cam_layer is not None and spec.weights_available:
        try:
            method = loaders.method_name(name)
        except VisionLabError as err:
            st.warning(str(err))
    show_cam = method is not None and st.toggle(
        f"Show the {method} heat map of the predicted class", value=True, key="report_show_cam")
    overlays = None
    if show_cam:
        try:
            overlays = _heat_maps(name, method, images, predicted)
            if overlays is None:
                st.warning("The heat maps could not be computed; here are the images alone.")
        except VisionLabError as err:
            st.warning(str(err))
        except Exception:  # the gallery still shows the images
            log.exception("heat maps failed for %s", name)
            st.warning("The heat maps could not be computed; here are the images alone.")
    elif spec.cam_layer is None:
        st.caption(f"{spec.title} has no convolutional layer, so it has no heat map.")
    elif not spec.weights_available:
        st.caption("The heat maps need the model's weights file, which is missing.")

    captions = []
    for index, _ in found:
        top = results.top3_indices[index]
        probs = results.top3_probabilities[index]
        line = f"#{index}: {labels[predicted]} {probs[0]:.0%}"
        if actual != predicted:
            where = np.flatnonzero(top == actual)
            line += (f", true {labels[actual]} {probs[where[0]]:.0%}" if len(where)
                     else f", true {labels[actual]} <{probs[-1]:.0%}")
        else:
            line += " (true class)"
        captions.append(line)
    pictures = overlays if overlays is not None else images
    st.image([charts.thumbnail(p, 140) for p in pictures], caption=captions, width=140)


def show_per_class(facts: dict) -> None:
    st.subheader("Per-class precision, recall and F1")
    st.caption("Click a column header to sort. Precision: of the images predicted as the class, "
               "the share that are right. Recall: of the class's images, the share found.")
    table = pd.DataFrame(facts["test"]["per_class"])
    share = dict(format="percent", min_value=0.0, max_value=1.0)
    st.dataframe(table, hide_index=True, key="report_per_class", column_config={
        "class": st.column_config.TextColumn("class"),
        "precision": st.column_config.ProgressColumn("precision", **share),
        "recall": st.column_config.ProgressColumn("recall", **share),
        "f1": st.column_config.ProgressColumn("F1", **share),
        "support": st.column_config.NumberColumn("test images", format="%d"),
    })


st.title("Model report")
st.markdown("How a model learned, and where it goes wrong on the test images it never saw.")

names = registry.trained_models()
default = next((i for i, n in enumerate(names) if loaders.metrics(n) is not None), 0)
name = st.selectbox("Model", names, index=default, format_func=lambda n: registry.get_spec(n).title, key="report_model")
facts = loaders.metrics(name)
if facts is None:
    st.warning(f"{registry.get_spec(name).title} is not trained yet: there is no report "
               f"(`weights/{name}.json`). Train it with `python -m vision.train {name}`, "
               "or pick another model.")
    st.stop()

spec = registry.get_spec(name)
show_metrics(facts)
show_curves(facts.get("history", {}))

st.subheader("Confusion matrix (test set)")
st.caption("Rows: the actual class; columns: what the model predicted. The diagonal holds the "
           "correct answers; the darker a cell, the larger its share of the row. **Click a cell** "
           "(or pick it in the list below the matrix) to see its test images.")
matrix = np.asarray(facts["test"]["confusion_matrix"], dtype=np.int64)
labels = tuple(facts.get("classes") or spec.labels)
if matrix.shape != (len(labels), len(labels)):
    st.error("The confusion matrix in this report does not match the model's classes; "
             f"train the model again with `python -m vision.train {name}`.")
else:
    cell = chosen_cell(name, matrix, labels)
    show_cell(name, cell, labels)

show_per_class(facts)
