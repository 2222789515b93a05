"""Vision Lab: see what a convolutional network sees. The router and the shared chrome."""

import logging
from pathlib import Path

import streamlit as st

from ui import loaders, presenter
from vision.errors import VisionLabError

# A file shipped with the app, served by this server: a Material or emoji page icon makes the
# browser fetch it from a public host (fonts.gstatic.com), which a classroom offline cannot reach.
st.set_page_config(page_title="Vision Lab", page_icon=Path(__file__).parent / "ui" / "page_icon.png",
                   layout="wide")

PAGES = {
    "Explore": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/fashion.py", title="Fashion", icon=":material/checkroom:"),
        st.Page("pages/doodle.py", title="Doodle", icon=":material/draw:"),
        st.Page("pages/play.py", title="Play", icon=":material/sports_esports:"),
        st.Page("pages/flowers.py", title="Flowers", icon=":material/local_florist:"),
        st.Page("pages/any_photo.py", title="Any photo (ImageNet)", icon=":material/photo_camera:"),
        st.Page("pages/layers.py", title="Layers", icon=":material/layers:"),
        st.Page("pages/your_model.py", title="Your model", icon=":material/upload_file:"),
    ],
    "Study": [
        st.Page("pages/model_report.py", title="Model report", icon=":material/monitoring:"),
        st.Page("pages/mistakes.py", title="Mistakes map", icon=":material/scatter_plot:"),
        st.Page("pages/compare.py", title="Compare models", icon=":material/compare:"),
        st.Page("pages/playground.py", title="Playground", icon=":material/tune:"),
        st.Page("pages/how_cnn_works.py", title="How a CNN works", icon=":material/school:"),
    ],
    "Classroom": [
        st.Page("pages/class_board.py", title="Class board", icon=":material/co_present:"),
    ],
}

page = st.navigation(PAGES)
loaders.keep_compiled_kernels()
loaders.preloading()  # what the home page shows; the loading itself starts after the page ran

with st.sidebar:
    presenter.sidebar_toggle()
    st.caption(
        "Vision Lab runs offline on your machine. Data: Fashion-MNIST (Zalando, MIT), "
        "Quick, Draw! (Google, CC BY 4.0), flowers-recognition (Kaggle; Flickr photos, many CC BY 2.0), "
        "ImageNet MobileNet weights (Google, Apache-2.0); sample photos from scikit-image (CC0, "
        "public domain) and scikit-learn (CC BY 2.0), credited in samples/photos/photos.csv."
    )

try:
    page.run()
except VisionLabError as err:
    st.error(str(err))
except Exception:  # the last safety net: a plain message on screen, the details in the server log
    logging.getLogger("vision_lab").exception("page %s failed", page.title)
    st.error("Something went wrong on this page. Try another image or reload the page.")
finally:
    loaders.start_preloading()  # once per server, after the first page a user opens has run
