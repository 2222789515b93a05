"""Streamlit-side helpers: cached loaders, Plotly figures and shared widgets (no TensorFlow here)."""
