"""Synthetic "speech" the fake backends can transcribe exactly.

A word is a run of identical non-zero samples; its value names it (``w1200``). Silence is
zeros. The fakes decode the audio they are sent, so a test knows exactly which words, at which
times, a correct client must report, and any lost, duplicated or shifted word shows up.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from connector.vocabulary import SAMPLE_RATE

SR = SAMPLE_RATE
WORD_S = 0.2
UTTERANCE_GAP_S = 0.4  # silence after which the fakes end an utterance


@dataclass(frozen=True)
class SpokenWord:
    value: int
    start: float
    duration: float = WORD_S

    @property
    def name(self) -> str:
        return f"w{self.value}"


def render(words: Sequence[SpokenWord], total: float) -> npt.NDArray[np.int16]:
    pcm = np.zeros(round(total * SR), dtype=np.int16)
    for w in words:
        a = round(w.start * SR)
        pcm[a : a + round(w.duration * SR)] = w.value
    return pcm


def word_sequence(count: int, *, start: float = 0.3, pause_every: int = 4) -> list[SpokenWord]:
    """``count`` words 0.1 s apart, with an utterance-ending pause after every ``pause_every``."""
    words: list[SpokenWord] = []
    t = start
    for i in range(count):
        words.append(SpokenWord(1000 + 10 * i, round(t, 4)))
        t += WORD_S + (0.6 if (i + 1) % pause_every == 0 else 0.1)
    return words


def chunks(pcm: npt.NDArray[np.int16], seconds: float = 0.1) -> Iterator[npt.NDArray[np.int16]]:
    step = round(seconds * SR)
    for i in range(0, len(pcm), step):
        yield pcm[i : i + step]


@dataclass
class DecodedWord:
    name: str
    start: float  # seconds from the start of the decoded audio
    end: float


class WordDecoder:
    """Incremental decoder: feed samples, get words and utterance ends back."""

    def __init__(self) -> None:
        self.pos = 0
        self._run_value = 0
        self._run_start = 0
        self._silence = 0
        self.pending: list[DecodedWord] = []

    def feed(self, pcm: npt.NDArray[np.int16]) -> list[list[DecodedWord]]:
        """Returns the utterances completed by this audio (a word run, then enough silence)."""
        done: list[list[DecodedWord]] = []
        for value in pcm.tolist():
            if value != self._run_value:
                self._end_run()
                self._run_value = value
                self._run_start = self.pos
            self.pos += 1
            if value == 0:
                self._silence += 1
                if self.pending and self._silence >= UTTERANCE_GAP_S * SR:
                    done.append(self.pending)
                    self.pending = []
            else:
                self._silence = 0
        return done

    def _end_run(self) -> None:
        if self._run_value != 0 and self.pos > self._run_start:
            self.pending.append(DecodedWord(f"w{self._run_value}", self._run_start / SR, self.pos / SR))

    def finish(self) -> list[DecodedWord]:
        """End of audio: the word being spoken (possibly cut) and the open utterance."""
        self._end_run()
        self._run_value = 0
        out, self.pending = self.pending, []
        return out

    def partial(self) -> list[DecodedWord]:
        """Words of the open utterance heard so far, the word being spoken included."""
        words = list(self.pending)
        if self._run_value != 0:
            words.append(DecodedWord(f"w{self._run_value}", self._run_start / SR, self.pos / SR))
        return words
