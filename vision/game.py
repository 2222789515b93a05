"""The drawing game, as Quick, Draw! plays it: a prompt, a 20-second timer, the network guessing
after every stroke, and a round won as soon as it is sure of the prompt.

Pure Python and numpy (no Streamlit, no TensorFlow): the page feeds it the model's probabilities
after each stroke, and the clock is injected, so the tests drive the timer with a fake clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

ROUNDS = 6
ROUND_SECONDS = 20.0
CONFIDENT = 0.8         # the prompt's probability that counts as "the model is sure"
CONFIDENT_IN_A_ROW = 2  # ... for this many guesses in a row: one lucky stroke is not enough

# How a round ended
RECOGNISED, TIME_UP, SKIPPED = "recognised", "time_up", "skipped"


@dataclass(frozen=True)
class Guess:
    """What the model made of the drawing after one stroke."""

    at: float                  # seconds since the round started
    probabilities: np.ndarray  # one per class
    model_input: np.ndarray    # the 28x28 picture the model saw (28, 28, 1)
    picture: bytes | None = None  # the canvas as PNG bytes, for the end screen and the board

    @property
    def top(self) -> int:
        return int(np.argmax(self.probabilities))


@dataclass
class Round:
    """One prompt and what happened while the student drew it."""

    prompt: int
    started_at: float | None = None
    ended_at: float | None = None
    outcome: str | None = None  # RECOGNISED, TIME_UP or SKIPPED once it is over
    guesses: list[Guess] = field(default_factory=list)

    @property
    def over(self) -> bool:
        return self.outcome is not None

    @property
    def final(self) -> Guess | None:
        """The last guess: what the model thought of the finished drawing."""
        return self.guesses[-1] if self.guesses else None


@dataclass(frozen=True)
class RoundRecord:
    """One line of the end screen."""

    number: int                 # 1-based
    prompt: str
    prompt_index: int
    recognised: bool
    outcome: str
    seconds: float              # how long the round took
    guess: str | None           # the model's final guess (None: nothing was drawn)
    guess_index: int | None
    probability: float | None   # of the final guess
    prompt_probability: float | None
    top3: tuple[tuple[str, float], ...]
    model_input: np.ndarray | None
    picture: bytes | None

    @property
    def thought_it_was(self) -> str | None:
        """For a missed round with a drawing: "it thought it was X"."""
        if self.recognised or self.guess is None:
            return None
        return self.guess


class Game:
    """A game of `rounds` prompts drawn from `labels`, none twice.

    Call `start_round()` to start the next prompt's timer, `guess(...)` after every stroke, and
    `tick()` now and then (the page does it every second) so that the timer ends the round.
    """

    def __init__(self, labels: Sequence[str], rounds: int = ROUNDS,
                 seconds: float = ROUND_SECONDS, confident: float = CONFIDENT,
                 in_a_row: int = CONFIDENT_IN_A_ROW, clock: Callable[[], float] = time.monotonic,
                 seed: int | None = None):
        if rounds > len(labels):
            raise ValueError(f"a game of {rounds} rounds needs at least {rounds} classes, "
                             f"got {len(labels)}")
        if rounds < 1 or seconds <= 0 or not 0 < confident <= 1 or in_a_row < 1:
            raise ValueError("rounds, seconds and in_a_row must be positive, confident in (0, 1]")
        self.labels = tuple(labels)
        self.seconds = float(seconds)
        self.confident = float(confident)
        self.in_a_row = int(in_a_row)
        self.clock = clock
        prompts = np.random.default_rng(seed).choice(len(self.labels), size=rounds, replace=False)
        self.rounds = [Round(int(p)) for p in prompts]
        self.index = 0  # the current round

    # ------------------------------------------------------------ state
    @property
    def current(self) -> Round | None:
        """The round being played or about to be played; None once the game is over."""
        return self.rounds[self.index] if self.index < len(self.rounds) else None

    @property
    def over(self) -> bool:
        return self.index >= len(self.rounds)

    @property
    def playing(self) -> bool:
        """Whether a round's timer is running."""
        current = self.current
        return current is not None and current.started_at is not None and not current.over

    @property
    def prompt(self) -> str | None:
        current = self.current
        return None if current is None else self.labels[current.prompt]

    def time_left(self) -> float:
        """Seconds left in the running round (the full time before it starts, 0 after)."""
        current = self.current
        if current is None or current.over:
            return 0.0
        if current.started_at is None:
            return self.seconds
        return max(0.0, self.seconds - (self.clock() - current.started_at))

    # ------------------------------------------------------------ moves
    def start_round(self) -> Round:
        """Start the timer of the current round (again-safe: a running round goes on)."""
        current = self.current
        if current is None:
            raise RuntimeError("the game is over")
        if current.over:  # the last round ended: move on first
            self.next_round()
            return self.start_round()
        if current.started_at is None:
            current.started_at = self.clock()
        return current

    def guess(self, probabilities: np.ndarray, model_input: np.ndarray,
              picture: bytes | None = None) -> bool:
        """Record the model's guess after a stroke. True when it ends the round (the model is
        sure of the prompt); a guess that comes after the time is up is not counted."""
        if self.tick() or not self.playing:
            return False
        current = self.current
        probabilities = np.asarray(probabilities, dtype=np.float32)
        if probabilities.shape != (len(self.labels),):
            raise ValueError(f"expected {len(self.labels)} probabilities, got {probabilities.shape}")
        current.guesses.append(Guess(self.clock() - current.started_at, probabilities.copy(),
                                     np.asarray(model_input).copy(), picture))
        recent = current.guesses[-self.in_a_row:]
        if len(recent) == self.in_a_row and all(
                g.probabilities[current.prompt] >= self.confident for g in recent):
            self._end(RECOGNISED)
            return True
        return False

    def tick(self) -> bool:
        """End the running round when its time is up. True when this call ended it."""
        if self.playing and self.time_left() <= 0.0:
            self._end(TIME_UP, at=self.current.started_at + self.seconds)
            return True
        return False

    def skip(self) -> None:
        """The student gives up on this prompt."""
        if self.playing:
            self._end(SKIPPED)

    def next_round(self) -> None:
        """Move past a finished round (the next `start_round` starts the next prompt)."""
        current = self.current
        if current is not None and current.over:
            self.index += 1

    def _end(self, outcome: str, at: float | None = None) -> None:
        current = self.current
        current.outcome = outcome
        current.ended_at = self.clock() if at is None else at

    # ------------------------------------------------------------ the end screen
    def records(self) -> list[RoundRecord]:
        """What the end screen shows, one record per finished round."""
        records = []
        for number, round_ in enumerate(self.rounds, start=1):
            if not round_.over:
                continue
            final = round_.final
            seconds = float(round_.ended_at - round_.started_at)
            if final is None:
                records.append(RoundRecord(
                    number, self.labels[round_.prompt], round_.prompt,
                    False, round_.outcome, seconds, None, None, None, None, (), None, None))
                continue
            p = final.probabilities
            order = np.argsort(-p, kind="stable")[:3]
            records.append(RoundRecord(
                number, self.labels[round_.prompt], round_.prompt,
                round_.outcome == RECOGNISED, round_.outcome, seconds,
                self.labels[final.top], final.top, float(p[final.top]),
                float(p[round_.prompt]), tuple((self.labels[i], float(p[i])) for i in order),
                final.model_input, final.picture))
        return records

    def score(self) -> int:
        """How many prompts the model recognised."""
        return sum(r.outcome == RECOGNISED for r in self.rounds)


def guess_phrase(labels: Sequence[str], probabilities: np.ndarray, prompt: int | None = None,
                 confident: float = CONFIDENT, k: int = 2) -> str:
    """What the model says aloud while you draw: "I see... moon? rainbow?", or "Oh, I know, it's
    moon!" when it is sure; "I'm not sure what that is..." when nothing stands out."""
    p = np.asarray(probabilities, dtype=float)
    top = int(np.argmax(p))
    if p[top] >= confident and (prompt is None or top == prompt):
        return f"Oh, I know, it's {labels[top]}!"
    candidates = [int(i) for i in np.argsort(-p, kind="stable")[:k] if p[i] >= 0.15]
    if not candidates:
        return "I'm not sure what that is..."
    return "I see... " + " ".join(f"{labels[i]}?" for i in candidates)
