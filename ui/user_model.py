"""The model a user uploaded, kept in that user's session only.

Never in `st.cache_resource` (shared by every session) and never on disk: the checked, loaded
model sits in `st.session_state`, which belongs to one browser tab. A new upload, or removing the
upload, drops the old model at once; Streamlit drops the session state when the session ends.
"""

from __future__ import annotations

import gc
import hashlib

import streamlit as st

from vision.errors import ModelFileError

MODEL_KEY = "user_model"          # st.session_state: the UserModel
SOURCE_KEY = "user_model_source"  # st.session_state: fingerprint of the files it came from


def _fingerprint(model_file, labels_file) -> str:
    digest = hashlib.sha256()
    for upload in (model_file, labels_file):
        if upload is not None:
            digest.update(f"{upload.file_id}:{upload.name}:{upload.size}".encode())
    return digest.hexdigest()


def forget() -> None:
    """Drop the session's model (its compiled calls first) and collect the memory now."""
    old = st.session_state.pop(MODEL_KEY, None)
    st.session_state.pop(SOURCE_KEY, None)
    if old is not None:
        old.release()
        del old
        gc.collect()


def session_model(model_file, labels_file):
    """The UserModel of the current uploads, loaded once per upload and kept in this session;
    None when nothing is uploaded.

    Raises:
        ModelFileError: the file (or the label file) cannot be used; the old model is gone too.
    """
    from vision.user_models import check_upload_size, load_user_model

    if model_file is None:
        forget()
        return None
    source = _fingerprint(model_file, labels_file)
    if st.session_state.get(SOURCE_KEY) == source and MODEL_KEY in st.session_state:
        return st.session_state[MODEL_KEY]
    forget()  # another model: the old one goes before the new one is read
    check_upload_size(model_file.size)  # before reading the bytes
    labels = None
    if labels_file is not None:
        if labels_file.size > 2**20:
            raise ModelFileError("The label file is too big: it should hold one class name a line.")
        labels = labels_file.getvalue()
    with st.spinner("Checking and loading your model..."):
        model = load_user_model(model_file.getvalue(), model_file.name, labels)
    st.session_state[MODEL_KEY] = model
    st.session_state[SOURCE_KEY] = source
    return model
