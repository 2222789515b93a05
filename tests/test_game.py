"""The drawing game's rules, with a fake clock: the timer, the early stop, prompts without
repeats, and what the end screen shows."""

from __future__ import annotations

import numpy as np
import pytest

from vision.data import DOODLE_CLASSES
from vision.game import RECOGNISED, SKIPPED, TIME_UP, Game, guess_phrase


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def probabilities(best: str, p: float, second: str | None = None) -> np.ndarray:
    """A probability vector with `p` on `best` and the rest on `second` (or spread out)."""
    n = len(DOODLE_CLASSES)
    out = np.zeros(n, np.float32)
    out[DOODLE_CLASSES.index(best)] = p
    if second is not None:
        out[DOODLE_CLASSES.index(second)] = 1 - p
    else:
        rest = [i for i in range(n) if i != DOODLE_CLASSES.index(best)]
        out[rest] = (1 - p) / len(rest)
    return out


INPUT = np.zeros((28, 28, 1), np.float32)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def game(clock) -> Game:
    return Game(DOODLE_CLASSES, clock=clock, seed=7)


def test_six_prompts_none_twice(clock):
    for seed in range(50):
        game = Game(DOODLE_CLASSES, clock=clock, seed=seed)
        prompts = [r.prompt for r in game.rounds]
        assert len(prompts) == 6 and len(set(prompts)) == 6
        assert all(0 <= p < len(DOODLE_CLASSES) for p in prompts)
    # and not always the same ones: over many games every class comes up
    seen = {r.prompt for seed in range(50) for r in Game(DOODLE_CLASSES, clock=clock, seed=seed).rounds}
    assert seen == set(range(len(DOODLE_CLASSES)))


def test_a_game_needs_enough_classes(clock):
    with pytest.raises(ValueError, match="at least 6 classes"):
        Game(DOODLE_CLASSES[:4], clock=clock)


def test_the_timer_runs_twenty_seconds_from_the_start_of_the_round(game, clock):
    assert game.time_left() == 20.0 and not game.playing  # shown, not started
    clock.advance(5)
    assert game.time_left() == 20.0
    game.start_round()
    assert game.playing
    clock.advance(12.5)
    assert game.time_left() == pytest.approx(7.5)
    assert not game.tick()
    clock.advance(7.5)
    assert game.time_left() == 0.0
    assert game.tick()  # this tick ends it
    assert not game.tick()  # and only once
    current = game.current
    assert current.outcome == TIME_UP and current.ended_at - current.started_at == 20.0


def test_a_guess_after_the_time_is_up_does_not_count(game, clock):
    game.start_round()
    prompt = game.prompt
    clock.advance(21)  # the page's timer has not ticked yet, and a stroke arrives late
    assert not game.guess(probabilities(prompt, 0.95), INPUT)
    assert game.current.outcome == TIME_UP and game.current.guesses == []


def test_the_round_stops_when_the_model_is_sure_twice_in_a_row(game, clock):
    game.start_round()
    prompt = game.prompt
    other = next(label for label in DOODLE_CLASSES if label != prompt)
    clock.advance(2)
    assert not game.guess(probabilities(prompt, 0.85), INPUT)  # once is not enough
    clock.advance(2)
    assert not game.guess(probabilities(other, 0.9), INPUT)    # sure, of something else
    clock.advance(2)
    assert not game.guess(probabilities(prompt, 0.95), INPUT)  # the streak starts again
    clock.advance(2)
    assert not game.guess(probabilities(prompt, 0.79), INPUT)  # just under 0.8
    clock.advance(2)
    assert not game.guess(probabilities(prompt, 0.80), INPUT)
    clock.advance(1.5)
    assert game.guess(probabilities(prompt, 0.91), INPUT)      # 0.80 then 0.91: recognised
    current = game.current
    assert current.outcome == RECOGNISED and current.ended_at - current.started_at == 11.5
    assert not game.playing and game.time_left() == 0.0


def play(game: Game, clock: FakeClock, plan: list[tuple[str, ...]]) -> None:
    """Play every round: ("win",) is recognised, ("miss", label, p) runs out of time with
    `label` as the last guess, ("skip",) gives up, ("blank",) draws nothing."""
    for step in plan:
        game.start_round()
        prompt = game.prompt
        if step[0] == "win":
            clock.advance(3)
            game.guess(probabilities(prompt, 0.7, "cat" if prompt != "cat" else "fish"), INPUT)
            clock.advance(1)
            game.guess(probabilities(prompt, 0.85), INPUT, picture=b"png-a")
            clock.advance(1)
            assert game.guess(probabilities(prompt, 0.9), INPUT + 1, picture=b"png-b")
        elif step[0] == "miss":
            label, p = step[1], step[2]
            assert label != prompt
            clock.advance(4)
            game.guess(probabilities(label, p, prompt), INPUT + 2, picture=b"png-miss")
            clock.advance(16)
            assert game.tick()
        elif step[0] == "skip":
            clock.advance(6)
            game.skip()
        else:
            clock.advance(20)
            game.tick()
        game.next_round()


def test_the_end_screen_has_a_record_per_round(clock):
    game = Game(DOODLE_CLASSES, clock=clock, seed=3)
    prompts = [DOODLE_CLASSES[r.prompt] for r in game.rounds]
    wrong = next(label for label in DOODLE_CLASSES if label not in prompts[1])
    play(game, clock, [("win",), ("miss", wrong, 0.6), ("skip",), ("blank",), ("win",), ("win",)])
    assert game.over and game.current is None and game.score() == 3
    with pytest.raises(RuntimeError):
        game.start_round()

    records = game.records()
    assert [r.number for r in records] == [1, 2, 3, 4, 5, 6]
    assert [r.prompt for r in records] == prompts
    assert [r.recognised for r in records] == [True, False, False, False, True, True]
    assert [r.outcome for r in records] == [RECOGNISED, TIME_UP, SKIPPED, TIME_UP, RECOGNISED, RECOGNISED]
    assert [r.seconds for r in records] == [5.0, 20.0, 6.0, 20.0, 5.0, 5.0]

    won = records[0]  # the final guess is the last one, with its own picture and input
    assert (won.guess, won.probability, won.prompt_probability) == (prompts[0], pytest.approx(0.9),
                                                                    pytest.approx(0.9))
    assert won.picture == b"png-b" and np.all(won.model_input == 1)
    assert won.thought_it_was is None

    missed = records[1]  # "it thought it was X", with the top-3 and the prompt's probability
    assert missed.thought_it_was == wrong and missed.guess == wrong
    assert missed.probability == pytest.approx(0.6)
    assert missed.prompt_probability == pytest.approx(0.4)
    assert [label for label, _ in missed.top3][:2] == [wrong, prompts[1]]
    assert len(missed.top3) == 3
    assert [p for _, p in missed.top3] == sorted((p for _, p in missed.top3), reverse=True)
    assert missed.picture == b"png-miss" and np.all(missed.model_input == 2)

    blank = records[3]  # nothing drawn: no guess at all
    assert blank.guess is None and blank.top3 == () and blank.thought_it_was is None


def test_replay_is_a_new_game_with_new_prompts(clock):
    first = Game(DOODLE_CLASSES, clock=clock, seed=1)
    again = Game(DOODLE_CLASSES, clock=clock, seed=2)
    assert [r.prompt for r in first.rounds] != [r.prompt for r in again.rounds]
    assert not again.records() and again.index == 0


@pytest.mark.parametrize("vector, prompt, said", [
    (probabilities("moon", 0.5, "rainbow"), None, "I see... moon? rainbow?"),
    (probabilities("moon", 0.9), "moon", "Oh, I know, it's moon!"),
    (probabilities("cat", 0.9), "moon", "I see... cat?"),
    (np.full(9, 1 / 9), None, "I'm not sure what that is..."),
])
def test_what_the_model_says_while_you_draw(vector, prompt, said):
    index = None if prompt is None else DOODLE_CLASSES.index(prompt)
    assert guess_phrase(DOODLE_CLASSES, vector, index) == said
