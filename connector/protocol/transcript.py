"""Building ``transcript`` event entities exactly per the protocol's schema (docs/protocol.md).

Offsets are absolute stream positions; the caller supplies ``to_stream`` to map an engine's
relative time onto the timeline. Token offsets must be unique within an interpretation, and
confidences must lie in [0, 1]; both are enforced here rather than trusted to engines. The outbox
(:mod:`connector.protocol.outbox`) serialises each entity once and splits an over-long final
with :func:`split_hypothesis`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..vocabulary import Hypothesis
from .durations import format_duration

__all__ = ["split_hypothesis", "transcript_entity", "utf16_units"]


def _confidence(value: float) -> float:
    if not math.isfinite(value):
        return 0.0
    return round(min(1.0, max(0.0, value)), 4)


def transcript_entity(
    hypothesis: Hypothesis,
    *,
    utterance_id: str,
    channel_id: int,
    to_stream: Callable[[float], float],
    language: str | None,
) -> dict[str, Any]:
    """One ``{"type": "transcript", "data": ...}`` entity for ``hypothesis``."""
    start = to_stream(hypothesis.start)
    end = to_stream(hypothesis.start + hypothesis.duration)
    tokens: list[dict[str, Any]] = []
    last_ms = -1
    for word in hypothesis.words:
        value = word.value.strip()
        if not value:
            continue
        word_start = to_stream(word.start)
        word_end = to_stream(word.start + word.duration)
        start_ms = max(round(word_start * 1000), last_ms + 1)  # unique, increasing offsets
        last_ms = start_ms
        token: dict[str, Any] = {
            "type": "word",
            "value": value,
            "confidence": _confidence(word.confidence),
            "offset": format_duration(start_ms / 1000),
            "duration": format_duration(max(0.0, word_end - start_ms / 1000)),
        }
        if language:
            token["language"] = language
        tokens.append(token)
    alternative: dict[str, Any] = {
        "confidence": _confidence(hypothesis.confidence),
        "interpretations": [{"type": "display", "transcript": hypothesis.text.strip(), "tokens": tokens}],
    }
    if language:
        alternative["languages"] = [language]
    return {
        "type": "transcript",
        "data": {
            "id": utterance_id,
            "channelId": channel_id,
            "isFinal": hypothesis.is_final,
            "offset": format_duration(start),
            "duration": format_duration(max(0.0, end - start)),
            "alternatives": [alternative],
        },
    }


def utf16_units(text: str) -> int:
    """Length as JavaScript counts it (the client's limit on a text message is in these units)."""
    return len(text.encode("utf-16-le")) // 2


def split_hypothesis(hypothesis: Hypothesis, max_units: int) -> list[Hypothesis]:
    """Split an over-long final in two at a word boundary (by its words, else by its text).

    A single word too long for any message is cut to a quarter of ``max_units`` characters.
    """
    words = list(hypothesis.words)
    if len(words) >= 2:
        middle = len(words) // 2
        parts = []
        for chunk in (words[:middle], words[middle:]):
            start = chunk[0].start
            parts.append(
                replace(
                    hypothesis,
                    text=" ".join(w.value.strip() for w in chunk),
                    start=start,
                    duration=max(0.0, chunk[-1].start + chunk[-1].duration - start),
                    words=chunk,
                )
            )
        return parts
    tokens = hypothesis.text.split()
    if len(tokens) < 2:
        return [replace(hypothesis, text=hypothesis.text[: max_units // 4], words=())]
    middle = len(tokens) // 2
    first, second = " ".join(tokens[:middle]), " ".join(tokens[middle:])
    share = len(first) / max(1, len(first) + len(second))
    split_at = hypothesis.start + hypothesis.duration * share
    return [
        replace(hypothesis, text=first, duration=split_at - hypothesis.start, words=()),
        replace(hypothesis, text=second, start=split_at, duration=hypothesis.start + hypothesis.duration - split_at,
                words=()),
    ]  # fmt: skip
