"""The words every layer shares: the sample rate, PCM, and what a recognizer heard.

The protocol machine turns audio into PCM at :data:`SAMPLE_RATE`, engines turn PCM into
:class:`Hypothesis` results, translators rewrite them, and the protocol turns them into transcript
events. Those types are defined here, on the ground floor, rather than in any one of those
layers, so each layer depends only downward: the protocol and the translators need not import
the engine package to name a result. This module imports nothing of the connector but other
ground-floor modules (:mod:`connector.envparse`, whose :class:`ConfigError` it re-exports as the
base of every configuration error).

Engine authors may keep importing these names from :mod:`connector.asr.base`, which re-exports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .envparse import ConfigError

__all__ = ["SAMPLE_RATE", "ConfigError", "Hypothesis", "Pcm", "Word"]

SAMPLE_RATE = 8000
"""Every AudioHook stream is 8 kHz (the protocol accepts no other rate); engines resample internally."""

Pcm = npt.NDArray[np.int16]
"""Mono (or, in the simulator, ``[samples, channels]``) 16-bit PCM at :data:`SAMPLE_RATE`."""


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word; ``start`` is seconds from the first sample fed to the recognizer."""

    value: str
    start: float
    duration: float
    confidence: float


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """A partial or final result for one utterance.

    ``start``/``duration`` span the utterance, relative to the fed audio like :class:`Word`.
    ``words`` may be empty when the engine has no word timings; the session then sends an
    empty token list rather than inventing timings. ``timing`` says where word times came from
    (``"engine"`` for real alignments, ``"spread"`` for evenly spread estimates, see
    :mod:`connector.word_timing`) so integrators and docs can tell them apart.
    """

    utterance: int
    text: str
    is_final: bool
    start: float
    duration: float
    confidence: float
    words: Sequence[Word] = ()
    language: str | None = None
    timing: str = "engine"
    source_text: str | None = None
    """For a translation: what was said (``text`` is the translation, ``language`` its language)."""
    source_language: str | None = None
