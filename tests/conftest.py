import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# AppTest runs app.py in this process: no background loading of every model behind the tests
# (the browser tests' server preloads, as the app does for its users).
os.environ.setdefault("VISION_LAB_PRELOAD", "0")
