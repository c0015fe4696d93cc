"""Evenly spread word timings, for text that has no real alignment.

Some backends return text without word times (OpenAI's ``gpt-4o*-transcribe``, every
translation). Genesys still wants tokens with offsets, so the words are laid evenly over the
utterance's span, weighted by length so long words get more time. Results built this way are
labelled ``Hypothesis.timing = "spread"`` so nobody mistakes them for real alignments.

Ground floor, beside :mod:`connector.vocabulary`: an engine (OpenAI's) and the translators both
build spread words, and neither should import the other's package to do it.
"""

from __future__ import annotations

from collections.abc import Sequence

from .vocabulary import Word

__all__ = ["SPREAD", "spread_words"]

SPREAD = "spread"
"""The ``Hypothesis.timing`` label for estimated word times."""


def spread_words(
    words: Sequence[str],
    start: float,
    duration: float,
    confidence: float | Sequence[float],
) -> list[Word]:
    """Lay ``words`` over ``[start, start + duration)`` in proportion to their length.

    ``confidence`` is one value for all words or one per word.
    """
    if not words:
        return []
    confidences = [confidence] * len(words) if isinstance(confidence, float | int) else list(confidence)
    if len(confidences) != len(words):
        raise ValueError("one confidence per word, or a single confidence")
    weights = [len(w) + 1 for w in words]  # +1: the gap after each word
    total = float(sum(weights))
    span = max(duration, 0.0)
    out: list[Word] = []
    t = start
    for value, weight, conf in zip(words, weights, confidences, strict=True):
        slot = span * weight / total
        out.append(Word(value=value, start=t, duration=slot, confidence=float(conf)))
        t += slot
    return out
