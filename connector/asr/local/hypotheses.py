"""A decode result as the channel's hypothesis: times on the call's timeline, words kept out of the pre-roll.

The recognizer decides *when* a final or partial goes out and which utterance number it has;
this module only says what it contains, so the timing rules are in one place.
"""

from __future__ import annotations

from ...audio.endpointer import WINDOW, Segment
from ...vocabulary import SAMPLE_RATE, Hypothesis, Word
from .decoder import DecodeResult

__all__ = ["empty_final", "final_hypothesis", "partial_hypothesis"]

RATE = SAMPLE_RATE


def final_hypothesis(segment: Segment, result: DecodeResult, utterance: int, language: str) -> Hypothesis:
    offset = segment.start / RATE
    # Nothing was said in the pre-roll before the VAD fired (give or take one window): a word
    # aligned there is a misalignment, so it starts no earlier than that.
    earliest = max(0.0, (segment.speech_start - WINDOW) / RATE - offset)
    words: list[Word] = []
    for w in result.words:
        start = max(w.start, earliest)
        words.append(
            Word(
                value=w.value,
                start=round(offset + start, 3),
                duration=round(max(0.0, w.end - start), 3),
                confidence=w.confidence,
            )
        )
    if words:
        start = words[0].start
        duration = max(0.0, words[-1].start + words[-1].duration - start)
    else:
        start = segment.speech_start / RATE
        duration = max(0.0, segment.end / RATE - start)
    return Hypothesis(
        utterance=utterance,
        text=result.text,
        is_final=True,
        start=round(start, 3),
        duration=round(duration, 3),
        confidence=result.confidence,
        words=tuple(words),
        language=language,
        timing="engine",
    )


def empty_final(segment: Segment, utterance: int, language: str) -> Hypothesis:
    """Closes an utterance whose partials went out but whose final found nothing."""
    start = segment.speech_start / RATE
    return Hypothesis(
        utterance=utterance,
        text="",
        is_final=True,
        start=round(start, 3),
        duration=round(max(0.0, segment.end / RATE - start), 3),
        confidence=0.0,
        words=(),
        language=language,
    )


def partial_hypothesis(
    segment: Segment, length: int, result: DecodeResult, utterance: int, language: str
) -> Hypothesis:
    """The first ``length`` samples of the utterance in progress, decoded."""
    start = segment.speech_start / RATE
    return Hypothesis(
        utterance=utterance,
        text=result.text,
        is_final=False,
        start=round(start, 3),
        duration=round(max(0.0, (segment.start + length) / RATE - start), 3),
        confidence=result.confidence,
        words=(),
        language=language,
    )
