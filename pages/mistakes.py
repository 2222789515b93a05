"""Mistakes map: the misclassified test images of a model placed in 2-D by what the network saw
(PCA of their penultimate-layer embeddings), clustered with k-means or DBSCAN, with a gallery per
cluster and per "misclassified as X" group: are there patterns in the mistakes?"""

import numpy as np
import pandas as pd
import streamlit as st

from ui import charts, loaders
from vision import registry
from vision.errors import VisionLabError
from vision.embeddings import Clustering, cluster_mistakes, project_2d, suggested_eps
from vision.evaluation import describe_group, group_mistakes

GALLERY_SIZE = 24  # thumbnails shown per group
MAX_K = 12


@st.cache_data(show_spinner="Projecting the mistakes to 2-D...", max_entries=16)
def _projection(name: str, version: tuple[str, float]) -> np.ndarray:
    return project_2d(loaders.evaluation(name).embeddings)


@st.cache_data(show_spinner=False, max_entries=64)
def _suggested_eps(name: str, version: tuple[str, float], min_samples: int) -> float:
    return suggested_eps(loaders.evaluation(name).embeddings, min_samples=min_samples)


@st.cache_data(show_spinner="Clustering the mistakes...", max_entries=64)
def _clusters(name: str, version: tuple[str, float], method: str, k: int, eps: float,
              min_samples: int) -> Clustering:
    return cluster_mistakes(loaders.evaluation(name).embeddings, method=method, k=k, eps=eps,
                            min_samples=min_samples)


def clustering_controls(name: str, version: tuple[str, float], n: int) -> tuple[str, int, float, int]:
    """The clustering method and its parameters, chosen by the user."""
    method = st.radio("Clustering", ["K-Means", "DBSCAN"], horizontal=True, key="mistakes_method",
                      help="K-Means splits the mistakes into k groups. DBSCAN finds dense groups "
                           "by itself and calls isolated points noise.")
    k, eps, min_samples = 5, 0.5, 5
    if method == "K-Means":
        top = max(2, min(MAX_K, n - 1))
        k = st.slider("Number of clusters (k)", 2, top, min(5, top), key="mistakes_k")
        return "kmeans", k, eps, min_samples
    left, right = st.columns(2)
    min_samples = right.slider("Min samples", 2, 30, 5, key="mistakes_min_samples",
                               help="How many neighbours a point needs to be in a dense region.")
    base = _suggested_eps(name, version, 5)
    suggestion = _suggested_eps(name, version, min_samples)
    high = round(max(3 * base, 1.2 * suggestion, 0.2), 2)
    eps_key = f"mistakes_eps_{name}"
    if eps_key not in st.session_state:  # start from the suggestion (set here, not as a default)
        st.session_state[eps_key] = float(min(max(round(base, 2), 0.05), high))
    eps = left.slider("eps (neighbourhood radius)", 0.05, float(high), step=0.01, key=eps_key,
                      help="Two mistakes closer than this (in the 20 main directions of the "
                           "embeddings) are neighbours.")
    st.button(f"Use the suggested eps for {min_samples} min samples ({suggestion:.2f})",
              key="mistakes_suggest_eps",
              on_click=lambda: st.session_state.update(
                  {eps_key: float(min(max(round(suggestion, 2), 0.05), high))}))
    return "dbscan", k, float(eps), min_samples


def show_clicked(position: int | None, finder, results, labels, clusters: np.ndarray) -> None:
    if position is None:
        st.caption("**Click a point** to see its image here. (Plotly cannot show pictures in its "
                   "hover boxes, so the picture appears beside the map; the galleries below show "
                   "every group.)")
        return
    index = int(results.misclassified[position])
    actual, predicted = int(results.y_true[index]), int(results.y_pred[index])
    image = finder.images([index])[0]
    group = int(clusters[position])
    where = "noise" if group < 0 else f"cluster {group + 1}"
    if image is None:
        st.caption(finder.missing_message() or "This image is not available here.")
    else:
        st.image(charts.thumbnail(image, 168), width=168)
    st.markdown(f"**Test image #{index}** ({where})  \nactual **{labels[actual]}**, predicted as "
                f"**{labels[predicted]}** ({results.top3_probabilities[index, 0]:.0%})")


def show_gallery(groups, title_of, finder, results, labels) -> None:
    for number, group in enumerate(groups):
        title = f"{title_of(group)}: {group.size} mistakes, {describe_group(group, labels)}"
        with st.expander(title, expanded=number == 0):
            members = group.members[:GALLERY_SIZE]
            indices = results.misclassified[members]
            images = finder.images(indices)
            shown = [(i, p) for i, p in zip(indices, images) if p is not None]
            if not shown:
                st.caption(finder.missing_message() or "These images are not available here.")
                continue
            st.image([charts.thumbnail(p, 84) for _, p in shown], width=84, caption=[
                f"{labels[results.y_true[i]]} → {labels[results.y_pred[i]]}" for i, _ in shown])
            if group.size > GALLERY_SIZE:
                st.caption(f"The first {GALLERY_SIZE} of {group.size}.")


st.title("Mistakes map")
st.markdown("Every dot is a test image the model got wrong, placed by what the network saw in it "
            "(its last layer before the classifier, reduced to 2-D with PCA). Mistakes that look "
            "alike to the network land close together, and clustering finds the groups.")

names = registry.trained_models()
default = next((i for i, n in enumerate(names) if registry.get_spec(n).eval_path.is_file()), 0)
name = st.selectbox("Model", names, index=default, format_func=lambda n: registry.get_spec(n).title, key="mistakes_model")
spec = registry.get_spec(name)
try:
    results = loaders.evaluation(name)
except VisionLabError as err:
    st.warning(str(err))
    st.stop()
labels = spec.labels
n = len(results.misclassified)
if n < 3 or len(results.embeddings) != n:
    st.info(f"{spec.title} makes only {n} mistakes on the test set: too few to map."
            if len(results.embeddings) == n else
            "The evaluation file does not hold one embedding per mistake; train the model again.")
    st.stop()

version = loaders.evaluation_version(name)  # cache key: the results change when the model is retrained
method, k, eps, min_samples = clustering_controls(name, version, n)
clustering = _clusters(name, version, method, k, eps, min_samples)
points = _projection(name, version)
finder = loaders.test_images(name)

count, found, silhouette, noise = st.columns(4)
count.metric("Mistakes", f"{n:,}", help=f"Out of {len(results.y_true):,} test images.")
found.metric("Clusters", clustering.n_clusters)
silhouette.metric("Silhouette score", "n/a" if clustering.silhouette is None else f"{clustering.silhouette:.3f}",
                  help="From -1 to 1: how much closer each mistake is to its own cluster than to the "
                       "next one (computed in the space that was clustered, noise left out). Above "
                       "0.5: clear groups; around 0.2: weak structure; near 0: no real clusters.")
noise.metric("Noise points", int(np.sum(clustering.labels < 0)) if method == "dbscan" else 0)
if clustering.silhouette is None:
    st.caption("The silhouette score needs at least 2 clusters"
               + (" (try a larger eps or fewer min samples)." if method == "dbscan" else "."))

positions = np.arange(n)
truth, predicted = results.y_true[results.misclassified], results.y_pred[results.misclassified]
hover = [f"#{i}: actual {labels[a]}, predicted {labels[p]}"
         for i, a, p in zip(results.misclassified, truth, predicted)]
chart, picked = st.columns([3, 1])
chart_key = f"mistakes_map_{name}"
with chart:
    event = st.plotly_chart(charts.mistakes_figure(points, clustering.labels, hover), key=chart_key,
                            on_select="rerun", selection_mode="points")
custom = charts.clicked_custom(event)
position = None
if custom is not None:
    try:
        position = int(custom[0] if isinstance(custom, (list, tuple)) else custom)
    except (TypeError, ValueError):
        position = None
    if position is not None and not 0 <= position < n:
        position = None
with picked:
    show_clicked(position, finder, results, labels, clustering.labels)

missing = finder.missing_message(finder.needs_dataset(results.misclassified[:1]))
if missing:
    st.info(missing)
elif finder.thumbnail_note(results.misclassified[:1]):
    st.caption(finder.thumbnail_note(results.misclassified[:1]))

st.subheader("Are there patterns in the mistakes?")
by_cluster = group_mistakes(clustering.labels, truth, predicted)
summary = pd.DataFrame([{
    "group": "noise" if g.label < 0 else f"cluster {g.label + 1}",
    "mistakes": g.size,
    "most frequent mistake": describe_group(g, labels).removeprefix("mostly ").split(", then")[0],
    "share of the group": g.purity(),
} for g in by_cluster])
st.dataframe(summary, hide_index=True, key="mistakes_summary", column_config={
    "share of the group": st.column_config.ProgressColumn(
        "share of the group", format="percent", min_value=0.0, max_value=1.0)})
st.caption("A cluster made mostly of one kind of mistake is a pattern: the network confuses "
           "those images for the same reason.")

by_cluster_tab, by_prediction_tab = st.tabs(["Gallery by cluster", "Gallery by predicted class"])
with by_cluster_tab, st.spinner("Loading the images..."):
    show_gallery(by_cluster, lambda g: "Noise" if g.label < 0 else f"Cluster {g.label + 1}",
                 finder, results, labels)
with by_prediction_tab, st.spinner("Loading the images..."):
    show_gallery(group_mistakes(predicted, truth, predicted),
                 lambda g: f"Misclassified as {labels[g.label]}", finder, results, labels)
