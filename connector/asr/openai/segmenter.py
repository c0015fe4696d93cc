"""Cutting a channel into utterances for a request/response API.

OpenAI transcribes whole clips, so the recognizer needs utterance boundaries: a
:class:`Segmenter` turns the stream into :class:`Utterance` clips. The implementation reuses
the shared endpointer (:mod:`connector.audio.endpointer`: hysteresis, pre-roll,
forced cut at a maximum length) with a pluggable scorer: Silero VAD by default, or a plain
energy gate (``OPENAI_STT_VAD=energy``) for clean lines, synthetic tests and hosts where the
native VAD cannot load. The protocol is small so another segmenter is one class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ...audio.endpointer import Endpointer, Scorer, Segment
from ...audio.highpass import HighPass
from ...audio.silero import shared_model
from ...vocabulary import Pcm
from .config import OpenAISettings

__all__ = ["EndpointSegmenter", "Segmenter", "Utterance", "energy_scorer", "make_segmenter"]

ENERGY_GATE_DBFS = -40.0
"""RMS level above which a 32 ms window counts as speech for the energy scorer."""


@dataclass(frozen=True, slots=True)
class Utterance:
    """A clip to transcribe; sample indices count from the first sample fed to the recognizer."""

    start: int
    pcm: Pcm
    speech_start: int
    speech_end: int


class Segmenter(Protocol):
    """Blocking (model inference): the recognizer calls it in a worker thread."""

    def feed(self, pcm: Pcm) -> list[Utterance]:
        """Consume audio; return utterances that ended in it."""
        ...

    def cut(self) -> list[Utterance]:
        """End the utterance in progress now (Flush or end of input)."""
        ...


def energy_scorer(window: npt.NDArray[np.float32]) -> float:
    """1.0 for a window louder than :data:`ENERGY_GATE_DBFS`, else 0.0."""
    rms = float(np.sqrt(np.mean(np.square(window, dtype=np.float64))))
    return 1.0 if rms > 10 ** (ENERGY_GATE_DBFS / 20) else 0.0


class EndpointSegmenter:
    """:class:`Segmenter` over the shared endpointer; the scorer is made on first use (in a thread)."""

    def __init__(self, settings: OpenAISettings) -> None:
        self._settings = settings
        self._endpointer: Endpointer | None = None

    def _get(self) -> Endpointer:
        if self._endpointer is None:
            silero = self._settings.vad == "silero"
            scorer: Scorer = shared_model().stream() if silero else energy_scorer
            self._endpointer = Endpointer(
                scorer,
                threshold=self._settings.vad_threshold,
                end_silence=self._settings.min_silence,
                preroll=self._settings.pad,
                max_utterance=self._settings.max_utterance,
                min_speech=self._settings.min_speech,
                prefilter=HighPass() if silero else None,  # rumble below 100 Hz blinds Silero
            )
        return self._endpointer

    def feed(self, pcm: Pcm) -> list[Utterance]:
        return [_utterance(s) for s in self._get().feed(pcm)]

    def cut(self) -> list[Utterance]:
        return [_utterance(s) for s in self._get().cut("flush")]


def _utterance(segment: Segment) -> Utterance:
    speech_end = segment.last_voiced_end or segment.end
    return Utterance(
        start=segment.start,
        pcm=segment.pcm,
        speech_start=segment.speech_start,
        speech_end=max(speech_end, segment.speech_start),
    )


def make_segmenter(settings: OpenAISettings) -> Segmenter:
    return EndpointSegmenter(settings)
