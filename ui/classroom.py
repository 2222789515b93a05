"""Streamlit helpers of classroom mode: the shared class board, who may clear it, and the small
pictures of drawings that travel to the board."""

from __future__ import annotations

import hmac
import io
import logging
import os

import numpy as np
import streamlit as st
from PIL import Image

from vision.board import Board, BoardOfflineError, SendLimiter

log = logging.getLogger("vision_lab")
PASSCODE_VARIABLE = "VISION_LAB_BOARD_PASSCODE"
PASSCODE_SECRET = "board_passcode"  # in .streamlit/secrets.toml
PICTURE_SIDE = 160  # the canvas as the board keeps it
LIMITER_KEY = "board_send_limiter"
FORWARDED = ("X-Forwarded-For", "Forwarded", "X-Real-Ip")


@st.cache_resource(show_spinner=False)
def board() -> Board:
    """The class board of this server (one per process, shared by every session), migrated at
    start; a database that is down now is tried again at the next use."""
    shared = Board()
    try:
        shared.migrate()
    except BoardOfflineError:
        pass  # the pages say the board is offline
    return shared


def limiter() -> SendLimiter:
    """This browser session's flood limits."""
    if LIMITER_KEY not in st.session_state:
        st.session_state[LIMITER_KEY] = SendLimiter()
    return st.session_state[LIMITER_KEY]


def passcode() -> str | None:
    """The passcode that clears the board: VISION_LAB_BOARD_PASSCODE, or `board_passcode` in
    .streamlit/secrets.toml; None when neither is set."""
    value = os.environ.get(PASSCODE_VARIABLE, "").strip()
    if value:
        return value
    try:
        if st.secrets.load_if_toml_exists():
            value = str(st.secrets.get(PASSCODE_SECRET, "")).strip()
    except Exception:  # an unreadable secrets file: no passcode
        log.warning("could not read .streamlit/secrets.toml", exc_info=True)
        value = ""
    return value or None


def passcode_matches(typed: str, expected: str) -> bool:
    return hmac.compare_digest(typed.strip().encode(), expected.encode())


def request_is_local() -> bool:
    """Whether this browser runs on the machine the server runs on: the connection comes from
    the loopback address (Streamlit reports no IP then) and no proxy forwarded it."""
    headers = st.context.headers
    if not headers or "Host" not in headers or any(h in headers for h in FORWARDED):
        return False
    return st.context.ip_address is None


def canvas_png(rgba: np.ndarray, side: int = PICTURE_SIDE) -> bytes:
    """The canvas as a small grey PNG (a few KB): what the board shows of a drawing."""
    pixels = np.asarray(rgba, dtype=np.uint8)
    if pixels.ndim == 3 and pixels.shape[-1] == 4:  # laid on white, as the student saw it
        alpha = pixels[..., 3:4].astype(np.float32) / 255.0
        pixels = np.rint(pixels[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    image = Image.fromarray(pixels).convert("L")
    image.thumbnail((side, side), Image.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def png_pixels(data: bytes) -> np.ndarray:
    """A stored PNG as uint8 RGB."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))
