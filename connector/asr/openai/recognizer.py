"""Per-channel recognition with OpenAI: VAD utterances, concurrent requests, finals in order.

Audio goes through the :class:`Segmenter` in a worker thread (the VAD is model inference);
every utterance it cuts becomes a request task, at most ``max_concurrency`` requests at a time
(the others wait for a turn; audio keeps flowing meanwhile). The emitter takes utterances in
cut order (:class:`connector.ordered.InOrder`), so a slow request delays the ones after it but
never lets them overtake; a failed request ends the call at its turn, after the finals before
it. There are no partials: the API returns whole transcripts.

Word times: real ones when the model returns them (``timing="engine"``), else the words are
spread evenly over the utterance's voiced span and labelled ``timing="spread"``.
"""

from __future__ import annotations

import trio

from ...ordered import InOrder, Slot
from ...vocabulary import SAMPLE_RATE, Hypothesis, Word
from ...word_timing import SPREAD, spread_words
from ..base import AudioChunk, EngineError, RecognizerInput
from ..languages import OpenAILanguage
from .segmenter import Segmenter, Utterance
from .transcribe import Transcriber, Transcript

__all__ = ["OpenAIRecognizer", "to_hypothesis"]


def to_hypothesis(
    number: int, utterance: Utterance, transcript: Transcript, language: str, fallback_confidence: float
) -> Hypothesis:
    """Map a clip's transcript onto the recognizer's timeline."""
    clip_start = utterance.start / SAMPLE_RATE
    confidence = transcript.confidence if transcript.confidence is not None else fallback_confidence
    words: list[Word]
    if transcript.words:
        words = [
            Word(
                value=w.value,
                start=clip_start + w.start,
                duration=w.end - w.start,
                confidence=w.confidence if w.confidence is not None else confidence,
            )
            for w in transcript.words
        ]
        timing = "engine"
        start = words[0].start
        end = max(w.start + w.duration for w in words)
    else:
        values = transcript.text.split()
        start = utterance.speech_start / SAMPLE_RATE
        end = utterance.speech_end / SAMPLE_RATE
        per_word = transcript.word_confidences
        confidences = list(per_word) if per_word and len(per_word) == len(values) else confidence
        words = spread_words(values, start, end - start, confidences)
        timing = SPREAD
    return Hypothesis(
        utterance=number,
        text=transcript.text,
        is_final=True,
        start=start,
        duration=max(0.0, end - start),
        confidence=confidence,
        words=tuple(words),
        language=language,
        timing=timing,
    )


class OpenAIRecognizer:
    """One channel; see the module docstring."""

    def __init__(
        self,
        *,
        transcriber: Transcriber,
        segmenter: Segmenter,
        limiter: trio.CapacityLimiter,
        model: str,
        language: str,
        request_language: OpenAILanguage,
        prompt: str | None,
        max_concurrency: int,
        fallback_confidence: float,
    ) -> None:
        self._transcriber = transcriber
        self._segmenter = segmenter
        self._limiter = limiter
        self._model = model
        self._language = language
        self._request_language = request_language
        self._prompt = prompt
        self._in_flight = trio.Semaphore(max_concurrency)
        self._fallback_confidence = fallback_confidence
        self._failure: EngineError | None = None

    async def run(
        self,
        audio: trio.MemoryReceiveChannel[RecognizerInput],
        results: trio.MemorySendChannel[Hypothesis],
    ) -> None:
        line = InOrder[tuple[Utterance, Transcript]]()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._emit_in_order, line, results, nursery.cancel_scope)
            with line:
                async for item in audio:
                    if isinstance(item, AudioChunk):
                        cut = await trio.to_thread.run_sync(self._segmenter.feed, item.pcm, limiter=self._limiter)
                    else:
                        cut = await trio.to_thread.run_sync(self._segmenter.cut, limiter=self._limiter)
                    for utterance in cut:
                        nursery.start_soon(self._transcribe, utterance, line.reserve())
                for utterance in await trio.to_thread.run_sync(self._segmenter.cut, limiter=self._limiter):
                    nursery.start_soon(self._transcribe, utterance, line.reserve())
        if self._failure is not None:
            raise self._failure

    async def _transcribe(self, utterance: Utterance, slot: Slot[tuple[Utterance, Transcript]]) -> None:
        try:
            async with self._in_flight:
                transcript = await self._transcriber.transcribe(
                    utterance.pcm, model=self._model, language=self._request_language, prompt=self._prompt
                )
        except EngineError as exc:
            slot.fail(exc)
        else:
            slot.fill((utterance, transcript))

    async def _emit_in_order(
        self,
        line: InOrder[tuple[Utterance, Transcript]],
        results: trio.MemorySendChannel[Hypothesis],
        scope: trio.CancelScope,
    ) -> None:
        number = 0
        try:
            async for utterance, transcript in line:
                if not transcript.text:
                    continue
                await results.send(
                    to_hypothesis(number, utterance, transcript, self._language, self._fallback_confidence)
                )
                number += 1
        except EngineError as exc:
            # Finals already sent stay sent; the rest of the call is abandoned loudly.
            self._failure = exc
            scope.cancel()
