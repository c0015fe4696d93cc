"""The streaming recognizer for one channel: VAD endpointing, speculative finals, partials.

Three tasks share one channel's state:

* **intake** reads audio, runs the VAD inline (well under a thread hop per 32 ms window) on it
  with rumble below 100 Hz removed (:mod:`connector.audio.highpass`: rumble blinds the VAD, and
  telephone speech has nothing there; the decoder gets the audio as sent) and queues work at
  once — it never waits on inference, so the session's audio path never stalls;
* **decoder** runs the queued work in order, one decode at a time, in a worker thread under the
  shared limiter; its work is never skipped:

  - a *speculative final*, queued as soon as the utterance in progress has been quiet for
    ``speculate_after`` seconds: the utterance so far is decoded while the endpointer waits to
    be sure the speaker has finished (``end_silence``);
  - a *final*, queued when the utterance ends: it takes the speculative result if no speech
    came after it (the common case, so the final is ready the moment the pause is confirmed),
    and decodes the utterance otherwise. A speculation overtaken by speech is abandoned — its
    thread stops at the next step — and its cost is the price of the latency;

* **partials** decodes the utterance in progress, first after ``partial_interval / 2`` seconds
  of speech and then every ``partial_interval`` seconds *of audio* (stretched to a tenth of the
  utterance's length for long ones), but only when it costs no final anything: a token is free
  right now, nobody is queued on the limiter, and this channel has no decode queued.

Each decode is prompted with what the channel said before (its last finals, Whisper's
previous-text context), unless that text showed loop evidence: a short utterance then keeps
the context a longer one would have given it.

A partial is sent only while its utterance is still open, so it always precedes the final
with the same ``utterance`` number. Utterance numbers are given out on first emission, so an
utterance that turns out to be silence uses none.

Cancellation: decodes run with ``abandon_on_cancel=False`` so no thread outlives the call, and
a watcher task sets a flag the decode checks between its steps, so a cancelled recognizer's
thread returns within one encode/generate/align step.

The work items the decoder runs are in :mod:`.work`; what a final or partial contains (its
times on the call's timeline) is in :mod:`.hypotheses`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import trio

from ...audio.endpointer import WINDOW, Endpointer, Scorer, Segment
from ...audio.highpass import HighPass
from ...vocabulary import SAMPLE_RATE, Hypothesis
from ..base import AudioChunk, EngineError, Flush, RecognizerInput
from .config import LocalSettings
from .decoder import DecodeCancelled, DecodeResult, WhisperDecoder
from .hypotheses import empty_final, final_hypothesis, partial_hypothesis
from .work import Final, Flag, Job, Speculation, SpeculationStats

__all__ = ["LocalRecognizer", "SpeculationStats"]

RATE = SAMPLE_RATE
_FEED_SLICE = RATE  # feed the VAD at most 1 s at a time, yielding to the loop in between
_PARTIAL_STRETCH = 10  # long utterances: at most ~10 partials each
T = TypeVar("T")


class LocalRecognizer:
    """One channel of the embedded engine (see the module docstring for how it schedules)."""

    def __init__(
        self,
        *,
        decoder: WhisperDecoder,
        settings: LocalSettings,
        whisper_language: str | None,
        language: str,
        limiter: trio.CapacityLimiter,
        scorer: Callable[[], Scorer],
    ) -> None:
        self._decoder = decoder
        self._settings = settings
        self._whisper_language = whisper_language
        self._language = language
        self._limiter = limiter
        self._make_scorer = scorer
        self._partial_samples = round(settings.partial_interval * RATE)
        self._speculate_samples = (
            max(WINDOW, round(settings.speculate_after * RATE)) if settings.speculate_after > 0 else 0
        )
        self._cancel = threading.Event()
        self._send_lock = trio.Lock()
        self._numbers: dict[int, int] = {}  # segment index → utterance number
        self._next_number = 0
        self._queued = 0  # decodes queued or running in the decoder task
        self._speculation: Speculation | None = None
        self.speculations = SpeculationStats()
        self._previous: tuple[int, ...] = ()  # the channel's latest final tokens (prompt context)
        self._partial_request: tuple[Segment, int] | None = None
        self._partial_wake = trio.Event()
        self._last_partial_at: dict[int, int] = {}  # segment index → its length at the last partial run
        self._input_done = False
        self._error: BaseException | None = None
        self._scope: trio.CancelScope | None = None

    # -- the run loop ---------------------------------------------------------------------

    async def run(
        self,
        audio: trio.MemoryReceiveChannel[RecognizerInput],
        results: trio.MemorySendChannel[Hypothesis],
    ) -> None:
        """Consume ``audio`` until closed; emit finals for everything heard, then return."""
        endpointer = Endpointer(
            self._make_scorer(),
            threshold=self._settings.vad_threshold,
            end_silence=self._settings.end_silence,
            preroll=self._settings.preroll,
            max_utterance=self._settings.max_utterance,
            min_speech=self._settings.min_speech,
            prefilter=HighPass(),
        )
        async with trio.open_nursery() as outer:
            self._scope = outer.cancel_scope
            outer.start_soon(self._signal_cancel_to_threads)
            async with trio.open_nursery() as inner:
                jobs_tx, jobs_rx = trio.open_memory_channel[Job](math.inf)
                inner.start_soon(self._guarded, self._decoder_worker, jobs_rx, results)
                if self._partial_samples > 0:
                    inner.start_soon(self._guarded, self._partials_worker, results)
                async with jobs_tx:
                    await self._guarded(self._intake, audio, endpointer, jobs_tx)
                self._input_done = True
                self._partial_wake.set()
            outer.cancel_scope.cancel()
        if self._error is not None:
            raise self._error

    async def _signal_cancel_to_threads(self) -> None:
        try:
            await trio.sleep_forever()
        finally:
            self._cancel.set()

    async def _guarded(self, fn: Callable[..., Awaitable[object]], *args: object) -> None:
        """Run a task body; a failure cancels the recognizer and is re-raised plainly by run()."""
        try:
            await fn(*args)
        except Exception as exc:
            if self._error is None:
                self._error = exc
            if self._scope is not None:
                self._scope.cancel()

    async def _in_thread(self, fn: Callable[..., T], *args: object) -> T:
        try:
            return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter, abandon_on_cancel=False)
        except DecodeCancelled:
            if not self._cancel.is_set():
                raise  # abandoned work, not a cancelled recognizer: the caller drops it
            # Only our watcher sets the event, and only when we are being cancelled.
            await trio.lowlevel.checkpoint()
            raise EngineError("local engine: decode interrupted") from None

    # -- intake ---------------------------------------------------------------------------

    async def _intake(
        self,
        audio: trio.MemoryReceiveChannel[RecognizerInput],
        endpointer: Endpointer,
        jobs: trio.MemorySendChannel[Job],
    ) -> None:
        async with audio:
            async for item in audio:
                if isinstance(item, Flush):
                    self._cut(endpointer, "flush", jobs)
                    continue
                if not isinstance(item, AudioChunk):
                    raise EngineError(f"local engine: unexpected input {type(item).__name__}")
                pcm = np.asarray(item.pcm, dtype=np.int16).reshape(-1)
                for offset in range(0, pcm.shape[0], _FEED_SLICE):
                    if offset:
                        await trio.lowlevel.checkpoint()
                    for segment in endpointer.feed(pcm[offset : offset + _FEED_SLICE]):
                        self._submit(segment, jobs)
                    self._drop_stale_speculation(endpointer.current)
                    self._maybe_speculate(endpointer, jobs)
                    self._maybe_request_partial(endpointer.current)
        self._cut(endpointer, "end", jobs)

    def _cut(self, endpointer: Endpointer, reason: str, jobs: trio.MemorySendChannel[Job]) -> None:
        """End the utterance in progress with every sample received so far (Flush, end of input)."""
        for segment in endpointer.cut(reason):
            self._submit(segment, jobs)
        self._drop_stale_speculation(endpointer.current)

    def _submit(self, segment: Segment, jobs: trio.MemorySendChannel[Job]) -> None:
        """Queue an ended utterance's final, with the speculation that covered all its speech."""
        speculation = self._speculation
        covered = speculation is not None and speculation.matches(segment)
        if covered:
            self._speculation = None
        self._queued += 1
        jobs.send_nowait(Final(segment, speculation if covered else None))

    def _drop_stale_speculation(self, in_progress: Segment | None) -> None:
        """Abandon a speculation no final took: speech resumed, or its utterance was dropped."""
        speculation = self._speculation
        if speculation is not None and (in_progress is None or not speculation.matches(in_progress)):
            self._speculation = None
            speculation.abandoned.set()
            self.speculations.abandoned += 1

    def _maybe_speculate(self, endpointer: Endpointer, jobs: trio.MemorySendChannel[Job]) -> None:
        """Queue a speculative final once the utterance in progress has gone quiet."""
        segment = endpointer.current
        if (
            segment is None
            or self._speculation is not None
            or self._speculate_samples <= 0
            or endpointer.quiet_samples < self._speculate_samples
            or segment.voiced < round(self._settings.min_speech * RATE)
        ):
            return
        self._speculation = Speculation(segment, segment.length, segment.last_voiced_end)
        self.speculations.started += 1
        self._queued += 1
        jobs.send_nowait(self._speculation)

    def _maybe_request_partial(self, segment: Segment | None) -> None:
        if segment is None or self._partial_samples <= 0:
            return
        heard = segment.end - segment.speech_start
        last = self._last_partial_at.get(segment.index)
        if last is None:
            # The first partial comes after half an interval of speech: early text matters most.
            if heard < self._partial_samples // 2:
                return
        else:
            # Each partial re-decodes the whole utterance, so for long ones the cadence stretches
            # to a tenth of their length: the partials' total cost grows linearly, not quadratically.
            interval = max(self._partial_samples, segment.length // _PARTIAL_STRETCH)
            if segment.length - last < interval:
                return
        # Recorded when the partial runs, not here: one skipped for a busy machine is asked
        # again with the next audio, not an interval later.
        self._partial_request = (segment, segment.length)
        self._partial_wake.set()

    # -- finals ---------------------------------------------------------------------------

    async def _decoder_worker(
        self, jobs: trio.MemoryReceiveChannel[Job], results: trio.MemorySendChannel[Hypothesis]
    ) -> None:
        async with jobs:
            async for job in jobs:
                try:
                    if isinstance(job, Speculation):
                        await self._speculate(job)
                        continue
                    result = await self._final_result(job)
                finally:
                    self._queued -= 1
                segment = job.segment
                if result is not None:
                    self._remember(result)
                async with self._send_lock:
                    if result is not None:
                        await results.send(self._final(segment, result))
                    elif segment.index in self._numbers:
                        # Partials went out but the final found nothing: close the utterance.
                        await results.send(self._empty_final(segment))
                    self._last_partial_at.pop(segment.index, None)
                    self._numbers.pop(segment.index, None)

    def _remember(self, result: DecodeResult) -> None:
        """Keep the channel's latest words as the next decode's context; drop a suspect decode's."""
        keep = self._settings.prompt_tokens
        self._previous = () if result.looped or keep <= 0 else (self._previous + result.tokens)[-keep:]

    async def _speculate(self, speculation: Speculation) -> None:
        if speculation.abandoned.is_set():
            return
        segment = speculation.segment
        flag = Flag(self._cancel, speculation.abandoned)
        try:
            speculation.result = await self._in_thread(
                self._decode, segment.audio[: speculation.length], True, segment.voiced, flag
            )
        except DecodeCancelled:
            return
        speculation.decoded = True

    async def _final_result(self, job: Final) -> DecodeResult | None:
        if job.speculation is not None and job.speculation.decoded:
            self.speculations.used += 1
            return job.speculation.result  # decoded during the pause: the final is ready now
        segment = job.segment
        return await self._in_thread(self._decode, segment.pcm, True, segment.voiced, Flag(self._cancel))

    def _decode(self, pcm: npt.NDArray[np.int16], final: bool, voiced: int, cancel: Flag) -> DecodeResult | None:
        try:
            return self._decoder.decode(
                pcm,
                self._whisper_language,
                final=final,
                cancel=cancel,
                previous=self._previous,
                voiced_seconds=voiced / RATE,
            )
        except DecodeCancelled:
            raise
        except Exception as exc:  # CTranslate2 errors carry no caller-safe text
            raise EngineError("local engine: decoding failed") from exc

    def _number(self, segment: Segment) -> int:
        number = self._numbers.get(segment.index)
        if number is None:
            number = self._numbers[segment.index] = self._next_number
            self._next_number += 1
        return number

    def _final(self, segment: Segment, result: DecodeResult) -> Hypothesis:
        return final_hypothesis(segment, result, self._number(segment), self._language)

    def _empty_final(self, segment: Segment) -> Hypothesis:
        return empty_final(segment, self._number(segment), self._language)

    # -- partials -------------------------------------------------------------------------

    def _partial_may_run(self) -> bool:
        """Partials never cost a final anything: skip unless the machine has room right now."""
        return (
            self._queued == 0
            and self._limiter.available_tokens >= 1
            and self._limiter.statistics().tasks_waiting == 0
        )

    async def _partials_worker(self, results: trio.MemorySendChannel[Hypothesis]) -> None:
        while not self._input_done:
            await self._partial_wake.wait()
            self._partial_wake = trio.Event()
            request, self._partial_request = self._partial_request, None
            if request is None:
                continue
            segment, length = request
            if segment.ended or not self._partial_may_run():
                continue
            self._last_partial_at = {segment.index: length}
            flag = Flag(self._cancel)
            result = await self._in_thread(self._decode, segment.audio[:length], False, segment.voiced, flag)
            if result is None:
                continue
            async with self._send_lock:
                if segment.ended:
                    continue  # its final is queued: a partial now would be stale
                number = self._number(segment)
                await results.send(partial_hypothesis(segment, length, result, number, self._language))
