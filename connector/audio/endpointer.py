"""Endpointing: where utterances start and end in a channel, from per-window speech scores.

A scorer — Silero VAD (:mod:`.silero`) in production, anything callable in tests — scores each
32 ms window (256 samples) for speech. :class:`Endpointer` turns those scores into
utterances with hysteresis: an utterance starts when a window reaches the threshold, keeps a
little audio from before that (pre-roll, so the first phoneme is not clipped), and ends after
``end_silence`` seconds below ``threshold - 0.15`` — or is force-cut at ``max_utterance`` so
Whisper's 30 s window is never exceeded. Pure silence and steady tones never reach the
threshold, so they never reach the decoder either: the first hallucination guard.

An optional prefilter (:class:`~.highpass.HighPass`) cleans the audio the *scorer* sees, so that
rumble does not blind the VAD; the segments keep the audio as it was sent (sample for sample:
the filter is centred), for the recognizer to decode.

The endpointer is pure bookkeeping over an injected scorer, so it is tested without a model;
the embedded engine and the OpenAI engine's segmenter both cut utterances with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..vocabulary import Pcm
from .highpass import HighPass
from .silero import RATE, WINDOW

__all__ = ["WINDOW", "Endpointer", "Scorer", "Segment"]

_HYSTERESIS = 0.15  # silero's customary gap between the start and the end threshold
Scorer = Callable[[npt.NDArray[np.float32]], float]


@dataclass(slots=True)
class Segment:
    """An utterance in progress or just ended; sample indices count from the first sample fed."""

    index: int  # 0, 1, 2 … per recognizer
    start: int  # first sample kept (includes pre-roll)
    speech_start: int  # first sample of the window that crossed the threshold
    audio: Pcm  # preallocated buffer; the first ``length`` samples are the utterance
    length: int = 0
    voiced: int = 0  # samples in windows at or above the threshold
    last_voiced_end: int = 0  # sample index just after the last voiced window
    ended: bool = False
    reason: str = ""

    @property
    def pcm(self) -> Pcm:
        return self.audio[: self.length]

    @property
    def end(self) -> int:
        return self.start + self.length

    def append(self, pcm: Pcm) -> None:
        n = min(pcm.shape[0], self.audio.shape[0] - self.length)
        self.audio[self.length : self.length + n] = pcm[:n]
        self.length += n


class Endpointer:
    """Feed int16 samples; get back the segments that ended (and see the one in progress)."""

    def __init__(
        self,
        scorer: Scorer,
        *,
        threshold: float,
        end_silence: float,
        preroll: float,
        max_utterance: float,
        min_speech: float,
        prefilter: HighPass | None = None,
    ) -> None:
        self._score = scorer
        self._prefilter = prefilter
        self._start_threshold = threshold
        self._end_threshold = max(0.01, threshold - _HYSTERESIS)
        self._end_windows = max(1, round(end_silence * RATE / WINDOW))
        self._preroll = round(preroll * RATE)
        self._max_samples = round(max_utterance * RATE)
        self._min_voiced = round(min_speech * RATE)
        self._pending: Pcm = np.zeros(0, dtype=np.int16)  # samples not yet scored (< one window)
        self._pending_scored: Pcm = self._pending  # the same samples as the prefilter gave them
        self._waiting: Pcm = np.zeros(0, dtype=np.int16)  # samples the prefilter has not given back yet
        self._history: Pcm = np.zeros(0, dtype=np.int16)  # up to ``preroll`` samples before now
        self._scored = 0  # samples scored so far (== start of the next window)
        self._silent_windows = 0
        self._next_index = 0
        self.current: Segment | None = None

    @property
    def quiet_samples(self) -> int:
        """How long the utterance in progress has been quiet (0 while speech goes on)."""
        return self._silent_windows * WINDOW if self.current is not None else 0

    @property
    def samples_fed(self) -> int:
        return self._scored + int(self._pending.shape[0]) + int(self._waiting.shape[0])

    def feed(self, pcm: Pcm) -> list[Segment]:
        """Score ``pcm``; returns segments that ended inside it (speech too short is dropped)."""
        if self._prefilter is None:
            return self._feed(pcm, pcm)
        scored = self._prefilter.process(pcm)
        raw = np.concatenate([self._waiting, pcm]) if self._waiting.shape[0] else pcm
        self._waiting = raw[scored.shape[0] :].copy()
        return self._feed(raw[: scored.shape[0]], scored)

    def _feed(self, pcm: Pcm, scored: Pcm) -> list[Segment]:
        """Keep ``pcm``, decide on ``scored`` (the same samples, cleaned by the prefilter)."""
        ended: list[Segment] = []
        if self._pending.shape[0]:
            pcm = np.concatenate([self._pending, pcm])
            scored = np.concatenate([self._pending_scored, scored])
        whole = pcm.shape[0] // WINDOW * WINDOW
        for offset in range(0, whole, WINDOW):
            window = pcm[offset : offset + WINDOW]
            probability = self._score(scored[offset : offset + WINDOW].astype(np.float32) / 32768.0)
            segment = self._step(window, probability)
            if segment is not None:
                ended.append(segment)
        self._pending = pcm[whole:].copy()
        self._pending_scored = scored[whole:].copy() if scored is not pcm else self._pending
        return ended

    def _remember(self, window: Pcm) -> None:
        if self._preroll:
            self._history = np.concatenate([self._history, window])[-self._preroll :]

    def _open(self, window_start: int) -> Segment:
        kept = self._history.shape[0]
        segment = Segment(
            index=self._next_index,
            start=window_start - kept,
            speech_start=window_start,
            audio=np.zeros(kept + self._max_samples, dtype=np.int16),
        )
        self._next_index += 1
        segment.append(self._history)
        return segment

    def _step(self, window: Pcm, probability: float) -> Segment | None:
        window_start = self._scored
        self._scored += WINDOW
        segment = self.current
        if segment is None:
            if probability < self._start_threshold:
                self._remember(window)
                return None
            segment = self.current = self._open(window_start)
            self._silent_windows = 0
        segment.append(window)
        self._remember(window)
        if probability >= self._end_threshold:
            self._silent_windows = 0
            if probability >= self._start_threshold:
                segment.voiced += WINDOW
            segment.last_voiced_end = self._scored
        else:
            self._silent_windows += 1
        if self._silent_windows >= self._end_windows:
            return self._close("silence")
        if segment.length + WINDOW > segment.audio.shape[0]:
            # Whisper's window must never overflow: cut here; if speech goes on, the next window
            # opens a new segment, without pre-roll (that audio is already in this one).
            self._history = np.zeros(0, dtype=np.int16)
            return self._close("max_utterance")
        return None

    def _close(self, reason: str) -> Segment | None:
        segment = self.current
        self.current = None
        self._silent_windows = 0
        if segment is None:
            return None
        segment.ended = True
        segment.reason = reason
        return segment if segment.voiced >= self._min_voiced else None

    def cut(self, reason: str) -> list[Segment]:
        """End the utterance in progress now (Flush, end of input) with every sample fed so far.

        Returns what ended: the prefilter's last samples may still end an utterance before the one
        cut here, so this is a list like :meth:`feed`'s (empty when nothing was in progress).
        """
        ended: list[Segment] = []
        if self._prefilter is not None:
            ended = self._feed(self._waiting, self._prefilter.flush())
            self._waiting = np.zeros(0, dtype=np.int16)
        # The unscored tail (under one window) goes to the utterance and is then consumed, so the
        # next audio starts a fresh window right after it: nothing is counted or kept twice.
        segment, tail = self.current, self._pending
        if segment is not None and tail.shape[0]:
            segment.append(tail)
        self._remember(tail)
        self._scored += tail.shape[0]
        self._pending = self._pending_scored = np.zeros(0, dtype=np.int16)
        last = self._close(reason)
        return ended if last is None else [*ended, last]
