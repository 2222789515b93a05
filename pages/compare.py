"""Compare models: one input through every model of a dataset, side by side: the top 3 of each,
the heat map where the model has one, and a clear note where they disagree."""

import logging

import streamlit as st

from ui import charts, loaders, widgets
from vision.heatmaps import overlay_heatmap
from vision.errors import VisionLabError
from vision.evaluation import disagreement
from vision.registry import DATASETS, trained_models

CHOICES = [d for d in DATASETS if trained_models(d)]  # ImageNet has no rival model
log = logging.getLogger("vision_lab")


def run_model(name: str, x) -> dict:
    """Top 3 and heat map of one model for its model-ready input."""
    top = loaders.top_k(name, x, k=3)
    heatmap = loaders.heat_map(name, x, int(top.indices[0]))
    overlay = None if heatmap is None else overlay_heatmap(x, heatmap)
    return {"top": top, "input": x, "overlay": overlay}


st.title("Compare models")
st.markdown("The same picture through every model trained on the same data. Where they disagree, "
            "compare the heat maps: the models may be looking at different parts of the image.")

dataset = st.radio("Dataset", CHOICES, format_func=lambda d: DATASETS[d].title, horizontal=True,
                   key="compare_dataset")
specs = DATASETS[dataset].models
image = widgets.page_image(dataset, key=f"compare_{dataset}", start_with_sample=True,
                           prompt="Choose a sample or upload a picture to compare the models.")

try:  # once per kind of preprocessing, so a picture that cannot be used is reported once
    inputs_by_kind = {kind: widgets.prepared_input(image, kind).model_input
                      for kind in dict.fromkeys(spec.preprocessing for spec in specs)}
except VisionLabError as err:
    widgets.show_error(err)
    st.stop()

results: dict[str, dict | None] = {}
problems: dict[str, str] = {}
with st.spinner("Running every model..."):
    for spec in specs:
        if not spec.weights_available:
            problems[spec.name] = widgets.not_trained_message(spec)
            continue
        try:
            results[spec.name] = run_model(spec.name, inputs_by_kind[spec.preprocessing])
        except VisionLabError as err:
            problems[spec.name] = str(err)
        except Exception:
            log.exception("compare: %s failed", spec.name)
            problems[spec.name] = "This model could not read this picture. Try another one."

shown, note = st.columns([1, 3])
with shown:
    st.image(charts.thumbnail(next(iter(inputs_by_kind.values())), 140),
             caption="what the models receive", width=140)
with note:
    if image.true_label:
        st.markdown(f"True class: **{image.true_label}**")
    answers = {name: r["top"].label for name, r in results.items()}
    majority = disagreement(answers)
    titles = {spec.name: spec.title for spec in specs}
    if majority is not None:
        st.warning("The models disagree: " + "; ".join(
            f"{titles[name]} says **{label}**" for name, label in answers.items()) + ".",
            icon=":material/call_split:")
    elif len(answers) > 1:
        st.success(f"All {len(answers)} models agree: **{next(iter(answers.values()))}**.",
                   icon=":material/check_circle:")
    elif len(specs) == 1:
        st.caption(f"{DATASETS[dataset].title} has only one model, so there is nothing to compare "
                   "it with; here is its answer.")
    if len(problems) == len(specs):
        st.error("None of these models is trained yet, so there is nothing to compare.")

columns = st.columns(len(specs))
for column, spec in zip(columns, specs):
    with column:
        result = results.get(spec.name)
        if result is None:
            st.subheader(spec.title, divider="gray")
            st.warning(problems.get(spec.name, "Not available."))
            continue
        top = result["top"]
        agrees = majority is None or top.label == majority
        st.subheader(spec.title, divider="green" if agrees else "orange")
        colour = "green" if agrees else "orange"
        right = "" if not image.true_label else (" ✓" if top.label == image.true_label else " ✗")
        st.markdown(f"Top answer: :{colour}[**{top.label}** {top.probability:.0%}]{right}")
        widgets.show_top_k(top.labels, top.probabilities, key=f"compare_topk_{spec.name}",
                           k=len(top.labels))
        if result["overlay"] is not None:
            st.image(charts.thumbnail(result["overlay"], 168), width=168,
                     caption=f"{loaders.method_name(spec.name)} of {top.label}")
        else:
            st.caption("No heat map: this model has no convolutional layer.")
