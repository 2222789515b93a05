"""Vision Lab's core: data, models, prediction, CAM / Grad-CAM and activations (no Streamlit)."""
