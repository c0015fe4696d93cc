"""Google streaming results → recognizer-relative words, trimmed to the span a stream owns.

Every gRPC stream reports offsets from its own first sample. A :class:`StreamWindow` says
where that first sample sits in the audio fed to the whole recognizer, and which part of the
timeline the stream is responsible for: around a rollover two streams hear the same overlap,
and each word must be emitted by exactly one of them. Words are assigned by their start time
(old stream: before the overlap midpoint; new stream: from it on); results without word
offsets are assigned by their end time, which is coarser (documented).

Confidences: chirp models report 0 for every confidence, which means "not provided", not
"certainly wrong". A zero is therefore replaced by the mean word confidence when there is one,
else by the configured fallback (``GOOGLE_SPEECH_FALLBACK_CONFIDENCE``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from google.cloud.speech_v2 import StreamingRecognitionResult

from ...vocabulary import SAMPLE_RATE, Word

__all__ = ["Piece", "StreamWindow", "convert_results", "results_end"]


@dataclass(slots=True)
class StreamWindow:
    """Placement of one gRPC stream on the recognizer's fed-audio timeline (seconds)."""

    offset: float
    keep_from: float = 0.0
    keep_until: float = math.inf


@dataclass(frozen=True, slots=True)
class Piece:
    """What one or more results say, mapped and trimmed; ``end`` is where the result stops."""

    text: str
    start: float
    end: float
    confidence: float
    words: tuple[Word, ...]
    language: str | None


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else 0.0


def _at(window: StreamWindow, offset: object) -> float:
    """Recognizer time of a stream offset, on the sample grid so boundary tests are exact."""
    return round((window.offset + _seconds(offset)) * SAMPLE_RATE) / SAMPLE_RATE


def results_end(results: Sequence[StreamingRecognitionResult], window: StreamWindow, prev_end: float) -> float:
    """Where the last of ``results`` ends on the recognizer timeline (untrimmed)."""
    ends = [_at(window, r.result_end_offset) for r in results if r.result_end_offset]
    return max([prev_end, *ends])


def convert_results(
    results: Sequence[StreamingRecognitionResult],
    window: StreamWindow,
    prev_end: float,
    fallback_confidence: float,
) -> Piece | None:
    """Merge ``results`` (one final, or a response's interim results) into one :class:`Piece`.

    ``prev_end`` is where the previous result of this stream ended (recognizer seconds); it is
    the start of a result that carries no word offsets. Returns ``None`` when nothing is left
    after trimming to ``window``.
    """
    texts: list[str] = []
    words: list[Word] = []
    trimmed = False
    confidences: list[float] = []
    end = prev_end
    language: str | None = None
    for result in results:
        if not result.alternatives:
            continue
        alt = result.alternatives[0]
        end = max(end, _at(window, result.result_end_offset))
        language = language or (result.language_code or None)
        if alt.confidence > 0:
            confidences.append(float(alt.confidence))
        if alt.transcript.strip():
            texts.append(alt.transcript.strip())
        for info in alt.words:
            start = _at(window, info.start_offset)
            stop = max(start, _at(window, info.end_offset))
            if not (window.keep_from <= start < window.keep_until):
                trimmed = True
                continue
            words.append(Word(info.word, start, stop - start, float(info.confidence)))

    word_confs = [w.confidence for w in words if w.confidence > 0]
    if confidences:
        confidence = sum(confidences) / len(confidences)
    elif word_confs:
        confidence = sum(word_confs) / len(word_confs)
    else:
        confidence = fallback_confidence
    words = [w if w.confidence > 0 else Word(w.value, w.start, w.duration, confidence) for w in words]

    if words:
        start = words[0].start
        word_end = max(w.start + w.duration for w in words)
        end = word_end if trimmed else max(end, word_end)
        text = " ".join(w.value for w in words) if trimmed else " ".join(texts)
    elif trimmed:
        return None  # every word belongs to the neighbouring stream
    else:
        text = " ".join(texts)
        start = max(prev_end, window.keep_from)
        if not text or end <= window.keep_from or start >= window.keep_until:
            return None
    return Piece(
        text=text,
        start=start,
        end=end,
        confidence=confidence,
        words=tuple(words),
        language=language,
    )
