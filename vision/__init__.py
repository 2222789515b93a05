"""Vision Lab's core: data, models, prediction, CAM / Grad-CAM and activations (no Streamlit)."""

from vision import tensorflow_threads

# Before any module of the package imports TensorFlow: its thread pools are sized once, at its
# first operation (vision/tensorflow_threads.py says why and how to override).
tensorflow_threads.set_defaults()
