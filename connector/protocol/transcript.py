"""Building ``transcript`` event entities exactly per the protocol's schema (section 9.2).

Offsets are absolute stream positions; the caller supplies ``to_stream`` to map an engine's
relative time onto the timeline. Token offsets must be unique within an interpretation, and
confidences must lie in [0, 1]; both are enforced here rather than trusted to engines.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..asr.base import Hypothesis
from .durations import format_duration

__all__ = ["transcript_entity"]


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
