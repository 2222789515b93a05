"""Play: the drawing game. Six prompts, 20 seconds each; the network guesses after every stroke
and stops the round as soon as it is sure. The end screen shows each drawing with where the
network looked, and what it looks for in the prompts it missed. Drawings can go to the class
board, if the student chooses."""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from ui import classroom, loaders, widgets
from vision.board import BoardLimitError, BoardOfflineError, InvalidDrawingError, NewDrawing
from vision.errors import EmptyCanvasError, VisionLabError
from vision.game import RECOGNISED, SKIPPED, Game, RoundRecord, guess_phrase
from vision.heatmaps import enlarge, overlay_heatmap
from vision.images import jpeg_data_url, png_data_url  # inline: no media file to lose
from vision.registry import get_dataset, get_spec

DATASET = "quickdraw"  # the game's classes: the doodle model's
GAME_KEY, NUMBER_KEY, SEEN_KEY, SENT_KEY = "play_game", "play_game_number", "play_seen", "play_sent"
PICTURE = 160  # the pictures on the end screen


def new_game(spec) -> None:
    st.session_state[GAME_KEY] = Game(spec.labels)
    st.session_state[NUMBER_KEY] = st.session_state.get(NUMBER_KEY, 0) + 1
    st.session_state[SEEN_KEY] = None


# ---------------------------------------------------------------- a round being played
@st.fragment(run_every=1)
def timer(game: Game) -> None:
    """The clock, once a second, without rerunning the page; the whole page moves on when the
    time is up."""
    if game.tick():
        st.rerun()
    left = game.time_left()
    with st.container(key="play_timer"):
        st.progress(left / game.seconds, text=f"{math.ceil(left)} seconds left")


@st.fragment
def canvas_and_guesses(game: Game, spec) -> None:
    """The canvas and what the network says: a stroke reruns only this part."""
    number, round_index = st.session_state[NUMBER_KEY], game.index
    pad, said = st.columns([1, 1], gap="large")
    with pad:
        rgba = widgets.drawing(f"play_pad_{number}_{round_index}", remember=False)
        if st.button("Skip this one", key=f"play_skip_{number}_{round_index}",
                     icon=":material/skip_next:"):
            game.skip()
            st.rerun()
    with said:
        if rgba is None:
            with st.container(key="play_guess"):
                st.subheader("Start drawing!", anchor=False)
            return
        try:
            prepared = widgets.prepared_input(widgets.InputImage(rgba, "your drawing"),
                                              spec.preprocessing)
        except EmptyCanvasError:
            with st.container(key="play_guess"):
                st.subheader("Start drawing!", anchor=False)
            return
        except VisionLabError as err:
            widgets.show_error(err)
            return
        probabilities = loaders.probabilities(spec.name, prepared.model_input)
        seen = widgets.signature(round_index, rgba)
        ended = False
        if st.session_state.get(SEEN_KEY) != seen:  # a new stroke, not a rerun of the same one
            st.session_state[SEEN_KEY] = seen
            ended = game.guess(probabilities, prepared.model_input, classroom.canvas_png(rgba))
        with st.container(key="play_guess"):
            st.subheader(guess_phrase(spec.labels, probabilities, game.current.prompt if game.current
                                      else None), anchor=False)
        widgets.show_top_k(spec.labels, probabilities, key="play_k", k=3)
        if ended or not game.playing:
            st.rerun()


def show_round(game: Game, spec) -> None:
    current = game.current
    with st.container(key="play_prompt"):
        st.header(f"Draw: {spec.labels[current.prompt]}", anchor=False)
        st.caption(f"Round {game.index + 1} of {len(game.rounds)} · in under "
                   f"{game.seconds:.0f} seconds")
    timer(game)
    st.space("small")  # room for the canvas's toolbar, which sits above the canvas
    canvas_and_guesses(game, spec)


def show_round_over(game: Game, spec) -> None:
    current = game.current
    prompt = spec.labels[current.prompt]
    final = current.final
    with st.container(key="play_verdict"):
        if current.outcome == RECOGNISED:
            st.subheader(f"Oh, I know, it's {prompt}!", anchor=False)
            st.caption(f"Recognised in {current.ended_at - current.started_at:.0f} seconds.")
        else:
            st.subheader(("Skipped" if current.outcome == SKIPPED else "Time's up!")
                         + f" I couldn't guess {prompt}.", anchor=False)
            if final is not None:
                st.caption(f"It thought it was {spec.labels[final.top]}.")
    if final is not None and final.picture:
        st.image(png_data_url(final.picture), width=PICTURE)
    last = game.index == len(game.rounds) - 1
    label = "See the results" if last else f"Next: round {game.index + 2} of {len(game.rounds)}"
    if st.button(label, key="play_next", type="primary", icon=":material/arrow_forward:"):
        game.next_round()
        if not game.over:
            game.start_round()
        st.rerun()


# ---------------------------------------------------------------- the end screen
def cam_picture(spec, record: RoundRecord, class_index: int) -> np.ndarray | None:
    """The heat map of one class over the drawing (over the 28x28 input when the drawing cannot
    be read again), or None for a model without conv layers."""
    explanation = loaders.explanation(spec.name, record.model_input, class_index)
    if explanation is None:
        return None
    input28 = np.asarray(record.model_input)[..., 0].astype(np.uint8)
    try:  # the saved picture, prepared again, says where the drawing lies in the input
        prepared = widgets.prepared_input(
            widgets.InputImage(classroom.png_pixels(record.picture), "your drawing"),
            spec.preprocessing)
        crop = next(step.image for step in prepared.steps if step.name == "cropped")
    except (VisionLabError, StopIteration):
        return overlay_heatmap(enlarge(input28, PICTURE), explanation.heatmap, 0.5)
    heat = prepared.heatmap_on_crop(explanation.heatmap, crop.shape[:2])
    return overlay_heatmap(enlarge(255 - crop, PICTURE), heat, 0.5)


def send_button(record: RoundRecord, number: int, nickname: str) -> None:
    """Opt-in: this drawing to the class board, once."""
    sent = st.session_state.setdefault(SENT_KEY, {})
    key = (number, record.number)
    if key in sent:
        st.success(sent[key], icon=":material/check:")
        return
    if not st.button("Send to the class board", key=f"play_send_{number}_{record.number}",
                     icon=":material/send:"):
        return
    try:
        classroom.limiter().check()
        result = classroom.board().save(NewDrawing(
            record.prompt, record.guess, record.probability, record.model_input, record.picture,
            nickname))
    except BoardOfflineError as err:
        st.warning(f"Not sent. {err}", icon=":material/cloud_off:")
        return
    except (BoardLimitError, InvalidDrawingError) as err:
        st.warning(f"Not sent. {err}", icon=":material/block:")
        return
    classroom.limiter().record()
    sent[key] = result.message
    st.success(result.message, icon=":material/check:")


def show_record(spec, record: RoundRecord, number: int, nickname: str) -> None:
    with st.container(border=True, key=f"play_round_{record.number}"):
        verdict = "recognised" if record.recognised else (
            "skipped" if record.outcome == SKIPPED else "not recognised")
        st.markdown(f"**{record.number}. {record.prompt}**: {verdict}")
        if record.guess is None:
            st.caption("Nothing was drawn.")
            return
        drawing, guess, prompt = st.columns(3)
        drawing.image(png_data_url(record.picture), caption="Your drawing", width=PICTURE)
        final = cam_picture(spec, record, record.guess_index)
        if final is not None:
            drawing.image(jpeg_data_url(final), caption=f"Where it looked for {record.guess}",
                          width=PICTURE)
        with guess:
            st.markdown(f"Final guess: **{widgets.prediction_text(record.guess, record.probability)}**")
            if record.thought_it_was:
                st.markdown(f"It thought it was **{record.thought_it_was}**. "
                            f"{record.prompt}: {record.prompt_probability:.1%}")
                widgets.show_top_k([label for label, _ in record.top3],
                                   np.array([p for _, p in record.top3]),
                                   key=f"play_top3_{number}_{record.number}", k=3)
            send_button(record, number, nickname)
        if record.thought_it_was:
            looks_for = cam_picture(spec, record, record.prompt_index)
            if looks_for is not None:
                prompt.image(jpeg_data_url(looks_for), width=PICTURE,
                             caption=f"What it looks for in {record.prompt}")


def show_results(game: Game, spec) -> None:
    number = st.session_state[NUMBER_KEY]
    st.header(f"The network recognised {game.score()} of your {len(game.rounds)} drawings",
              anchor=False)
    st.caption("Beside each drawing: where the network looked for its final guess. For the ones "
               "it missed: what it was sure of instead, and what it looks for in the prompt.")
    if st.button("Play again", key="play_again", type="primary", icon=":material/replay:"):
        new_game(spec)
        st.session_state[GAME_KEY].start_round()
        st.rerun()
    if not classroom.board().online():
        st.warning("The class board is offline right now: drawings cannot be sent to it. "
                   "The game works as usual.", icon=":material/cloud_off:")
    nickname = st.text_input("Nickname on the class board (optional)", key="play_nickname",
                             max_chars=20, placeholder="no name",
                             help="Only the drawing, the prompt, the network's guess and this "
                                  "nickname go to the board, and only the drawings you send.")
    with st.container(key="play_results"):
        for record in game.records():
            show_record(spec, record, number, nickname)


# ---------------------------------------------------------------- the page
st.title("Play", anchor=False)
spec = get_spec(get_dataset(DATASET).default_model)
if widgets.loaded_predictor(spec) is None:
    st.stop()
game: Game | None = st.session_state.get(GAME_KEY)

if game is None:
    st.markdown(f"Draw what you are asked, in under 20 seconds, and {spec.title} guesses while "
                "you draw. Six drawings, one of these each time:")
    st.markdown(" · ".join(f"**{label}**" for label in spec.labels))
    if st.button("Start", key="play_start", type="primary", icon=":material/play_arrow:"):
        new_game(spec)
        st.session_state[GAME_KEY].start_round()
        st.rerun()
elif game.over:
    show_results(game, spec)
else:
    game.tick()
    if game.playing:
        show_round(game, spec)
    else:
        show_round_over(game, spec)
