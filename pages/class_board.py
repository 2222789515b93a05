"""Class board: the drawings the students sent from Play, live. Grouped by prompt, a class
confusion matrix (prompt vs the network's guess) whose cells open their drawings, counts per
prompt, and the drawing the network found hardest for each prompt. The teacher can clear it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ui import classroom, presenter
from ui.charts import clicked_cell, confusion_figure
from vision.board import Board, BoardOfflineError, Drawing
from vision.registry import get_dataset, get_spec

DATASET = "quickdraw"  # the board shows the game's drawings
REFRESH_SECONDS = 3
PER_PROMPT = 12     # newest drawings shown per prompt
CELL_DRAWINGS = 24  # drawings shown for a clicked cell
THUMB = 112
CHART_KEY, CELL_KEY, LAST_KEY = "board_matrix", "board_cell", "board_last_click"
MESSAGE_KEY, PASSCODE_KEY = "board_clear_message", "board_passcode_input"


def caption(drawing: Drawing, with_prompt: bool = False) -> str:
    text = f"{drawing.prompt}: " if with_prompt else ""
    text += f"{drawing.guess} {drawing.probability:.0%}"
    return text + (f" · {drawing.nickname}" if drawing.nickname else "")


def gallery(drawings: list[Drawing], with_prompt: bool = False) -> None:
    st.image([classroom.png_pixels(d.picture_png) for d in drawings],
             caption=[caption(d, with_prompt) for d in drawings], width=THUMB)


def confusion(pairs: dict[tuple[str, str], int], labels: tuple[str, ...]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), np.int64)
    for (prompt, guess), count in pairs.items():
        if prompt in index and guess in index:  # drawings of another model's classes stay out
            matrix[index[prompt], index[guess]] += count
    return matrix


def chosen_cell(matrix: np.ndarray, labels: tuple[str, ...]) -> tuple[int, int] | None:
    """The cell the teacher clicked last. Kept in the session, not in the chart: a refresh with
    new drawings draws a new chart, and the choice must survive it."""
    clicked = clicked_cell(st.session_state.get(CHART_KEY), labels)
    if clicked is not None and clicked != st.session_state.get(LAST_KEY):
        st.session_state[LAST_KEY] = clicked
        st.session_state[CELL_KEY] = clicked
    cell = st.session_state.get(CELL_KEY)
    figure = confusion_figure(matrix, labels, selected=cell)
    figure.update_traces(
        hovertemplate="Prompt %{y}, guessed as %{x}<br>%{customdata[2]} drawings<br>"
                      "click to see them<extra></extra>", selector=dict(name="cells"))
    figure.update_layout(xaxis_title="the network's guess", yaxis_title="prompt")
    st.plotly_chart(presenter.figure(figure), key=CHART_KEY, on_select="rerun",
                    selection_mode="points", config={"displayModeBar": False})
    return cell


def close_cell() -> None:
    st.session_state.pop(CELL_KEY, None)
    st.session_state.pop(LAST_KEY, None)


def show_cell(board: Board, cell: tuple[int, int], labels: tuple[str, ...]) -> None:
    prompt, guess = labels[cell[0]], labels[cell[1]]
    drawings = board.latest(prompt=prompt, guess=guess, limit=CELL_DRAWINGS)
    with st.container(key="board_cell_view", border=True):
        st.subheader(f"Prompt {prompt}, guessed as {guess}", anchor=False)
        if drawings:
            gallery(drawings)
        else:
            st.caption("No drawing in this cell.")
        st.button("Close", key="board_close_cell", on_click=close_cell, icon=":material/close:")


@st.fragment(run_every=REFRESH_SECONDS)
def live(board: Board, labels: tuple[str, ...]) -> None:
    """Everything that changes as drawings arrive, read again every few seconds (only this part
    of the page reruns; the teacher's chosen cell stays)."""
    try:
        pairs = board.pairs()
        if not pairs:
            st.info("No drawings yet. Students send theirs from the end screen of **Play** "
                    "(under Explore).", icon=":material/draw:")
            return
        matrix = confusion(pairs, labels)
        per_prompt = board.latest_per_prompt(PER_PROMPT)
        hardest = board.hardest_per_prompt()
        totals = {p: sum(c for (q, _), c in pairs.items() if q == p) for p in {p for p, _ in pairs}}
        right = {p: pairs.get((p, p), 0) for p in totals}
        total = sum(totals.values())

        count, recognised, prompts = st.columns(3)
        count.metric("Drawings", f"{total:,}")
        recognised.metric("Recognised", f"{sum(right.values()) / total:.0%}")
        prompts.metric("Prompts drawn", f"{len(totals)} of {len(labels)}")

        matrix_column, counts_column = st.columns([3, 2], gap="large")
        with matrix_column:
            st.subheader("Class confusion matrix", anchor=False)
            st.caption("Rows: what the students were asked to draw; columns: the network's final "
                       "guess. **Click a cell** to see its drawings.")
            cell = chosen_cell(matrix, labels)
        with counts_column:
            st.subheader("Per prompt", anchor=False)
            order = [p for p in labels if p in totals] + sorted(set(totals) - set(labels))
            st.dataframe(pd.DataFrame({
                "prompt": order, "drawings": [totals[p] for p in order],
                "recognised": [right[p] / totals[p] for p in order]}),
                hide_index=True, key="board_counts", column_config={
                    "recognised": st.column_config.ProgressColumn(
                        "recognised", format="percent", min_value=0.0, max_value=1.0)})
        if cell is not None:
            show_cell(board, cell, labels)

        st.subheader("The drawing the network found hardest", anchor=False)
        st.caption("Per prompt: of the drawings it missed, the one it was surest was something "
                   "else; if it recognised them all, the one it was least sure of.")
        with st.container(key="board_hardest"):
            gallery([hardest[p] for p in order if p in hardest], with_prompt=True)

        st.subheader("All drawings, newest first", anchor=False)
        for prompt in order:
            with st.container(key=f"board_prompt_{prompt.replace(' ', '_')}"):
                shown = per_prompt.get(prompt, [])
                more = totals[prompt] - len(shown)
                st.markdown(f"**{prompt}** · {totals[prompt]} drawing{'s' * (totals[prompt] != 1)}, "
                            f"{right[prompt]} recognised" + (f" (newest {len(shown)} shown)" if more else ""))
                gallery(shown)
    except BoardOfflineError as err:
        st.warning(str(err), icon=":material/cloud_off:")


# ---------------------------------------------------------------- clearing
def clear_board(board: Board, code: str | None) -> None:
    """The form's callback: it runs before the page does, so the board shows empty at once."""
    typed = st.session_state.get(PASSCODE_KEY) or ""
    if code is not None and not classroom.passcode_matches(typed, code):
        st.session_state[MESSAGE_KEY] = ("error", "Wrong passcode: the board was not cleared.")
        return
    if code is None and not classroom.request_is_local():
        st.session_state[MESSAGE_KEY] = ("error", "Clearing needs the server's own machine.")
        return
    try:
        removed = board.clear()
    except BoardOfflineError as err:
        st.session_state[MESSAGE_KEY] = ("error", f"Not cleared. {err}")
        return
    close_cell()
    plural = "s" * (removed != 1)
    st.session_state[MESSAGE_KEY] = ("success", f"The board is clear ({removed} drawing{plural} removed).")


def clear_section(board: Board) -> None:
    code = classroom.passcode()
    with st.expander("Clear the board", icon=":material/delete:"):
        if code is None and not classroom.request_is_local():
            st.caption("No passcode is set on the server, so the board can only be cleared from "
                       "the machine the server runs on. Set `VISION_LAB_BOARD_PASSCODE` (or "
                       "`board_passcode` in `.streamlit/secrets.toml`) to clear it from here.")
            return
        with st.form("board_clear", clear_on_submit=True, border=False):
            if code is not None:
                st.text_input("Passcode", type="password", key=PASSCODE_KEY)
            else:
                st.caption("No passcode is set: clearing works from this machine only.")
            st.form_submit_button("Clear the board", icon=":material/delete_forever:",
                                  on_click=clear_board, args=(board, code))


st.title("Class board", anchor=False)
st.markdown("What the class drew in **Play**, and what the network made of it. It updates by "
            f"itself every {REFRESH_SECONDS} seconds.")
spec = get_spec(get_dataset(DATASET).default_model)
shared = classroom.board()
if MESSAGE_KEY in st.session_state:
    kind, text = st.session_state.pop(MESSAGE_KEY)
    (st.success if kind == "success" else st.error)(text)
live(shared, spec.labels)
clear_section(shared)
