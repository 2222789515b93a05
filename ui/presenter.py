"""Presenter view: text, guesses and bars large enough to read from the back of a room (a
1920x1080 projector), and a QR code of the app's address so that students join from their phones.

Streamlit sizes its text in rem, and so do the probability bars (`ui.charts.top_k_bars`): the view
scales the root font size. Plotly figures are drawn in pixels and are enlarged by `figure()`.
"""

from __future__ import annotations

import io
import os
import socket
from urllib.parse import urlsplit, urlunsplit

import streamlit as st

KEY = "presenter_view"
URL_VARIABLE = "VISION_LAB_PUBLIC_URL"  # the address students should open, when the app knows it wrong
FONT_SCALE = 1.6
FIGURE_FONT = 26

CSS = f"""
<style>
html {{ font-size: {FONT_SCALE * 100:.0f}%; }}
.st-key-top1 h3, .st-key-play_guess h3 {{ font-size: 3rem !important; line-height: 1.25; }}
.st-key-play_prompt h2 {{ font-size: 3.4rem !important; }}
/* the page list at its usual size, so that the QR code stays on the screen */
[data-testid="stSidebarNav"] {{ zoom: {1 / FONT_SCALE:.3f}; }}
</style>
"""


def presenting() -> bool:
    """Whether this browser has the presenter view on."""
    return bool(st.session_state.get(KEY, False))


def figure(fig):
    """A Plotly figure readable from the back of the room (unchanged when not presenting)."""
    if presenting():
        fig.update_layout(font=dict(size=FIGURE_FONT))
    return fig


def _lan_address() -> str | None:
    """This machine's address on the local network (no packet is sent: connecting a UDP socket
    only picks the outgoing interface), or None without a network."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def app_address() -> str:
    """The address students should open: VISION_LAB_PUBLIC_URL when set, else the one in this
    browser's address bar, with "localhost" replaced by the machine's network address (a phone
    cannot reach the teacher's localhost)."""
    configured = os.environ.get(URL_VARIABLE, "").strip()
    if configured:
        return configured.rstrip("/")
    url = st.context.url or f"http://localhost:{st.get_option('server.port')}"
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    if host in ("localhost", "127.0.0.1", "::1", "0.0.0.0"):
        host = _lan_address() or host
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme or "http", netloc, "", "", "")).rstrip("/")


def qr_png(text: str, scale: int = 8) -> bytes:
    """A QR code of `text` as PNG bytes (segno: no image library needed)."""
    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()


def sidebar_toggle() -> None:
    """The sidebar switch; when on: the large styles and the QR code to join."""
    on = st.toggle("Presenter view", key=KEY,
                   help="Large text, guesses and bars for a projector, and a QR code of this app "
                        "for the students' phones.")
    if not on:
        return
    st.html(CSS)
    address = app_address()
    with st.container(key="presenter_qr"):
        st.image(qr_png(address), caption=f"Join: {address}", width=240)
