"""Per-channel streaming recognition on Google Speech v2, for calls longer than one gRPC stream.

A Google stream accepts about five minutes of audio, so a call is a chain of streams:

* **Rollover.** When a stream has carried ``stream_limit`` seconds, a new stream starts with
  the last ``overlap`` seconds replayed, and the old one is half-closed so it finalises what it
  heard. Each word is emitted by exactly one stream: the old one keeps words starting before
  the boundary (the overlap midpoint, or the end of the last final if later), the new one the
  words from there on. A word spoken across the cut is heard whole by one of them.
* **Timeline.** Every stream knows at which fed sample it starts, so its offsets map onto the
  audio fed to this recognizer, whatever the rollovers and retries.
* **Order.** Results of a newer stream wait until the older streams have drained, so finals
  come out in time order and utterance numbers never go backwards.
* **Retries.** A stream that fails with a transient status (or ends on its own) is replaced
  after a backoff, replaying the audio since the last final from a bounded history buffer.
* **Flush / end of input.** The stream is half-closed, the service finalises, and anything
  still partial when it ends (or when ``drain_timeout`` fires) is emitted as final.

One event channel carries audio, responses and timers into a single loop, so all state lives
in one task and nothing is shared with the worker threads except each stream's queue. The
events and the per-stream record are in :mod:`.events`; which failures are retried, in
:mod:`.failures`.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial

import grpc
import numpy as np
import trio
from google.cloud.speech_v2 import StreamingRecognizeRequest, StreamingRecognizeResponse

from ...vocabulary import SAMPLE_RATE, Hypothesis, Pcm, Word
from ..base import AudioChunk, EngineError, Flush, RecognizerInput
from .config import GoogleSettings
from .events import DrainExpired, Ended, Eof, LoopEvent, Reopen, Response, Stream
from .failures import TRANSIENT_CODES, describe_rpc_error
from .results import StreamWindow, convert_results, results_end
from .stream import GrpcStream, StreamingStub

__all__ = ["TRANSIENT_CODES", "GoogleRecognizer", "describe_rpc_error"]

log = logging.getLogger(__name__)

_DEADLINE_MARGIN = 60.0


def _le_bytes(pcm: Pcm) -> bytes:
    """Little-endian int16 bytes, as LINEAR16 wants (a no-op conversion on little-endian hosts)."""
    return np.asarray(pcm, dtype="<i2").tobytes()


class GoogleRecognizer:
    """One channel's recognizer; see the module docstring for how streams are chained."""

    def __init__(
        self,
        *,
        stub: StreamingStub,
        first_request: Callable[[], StreamingRecognizeRequest],
        settings: GoogleSettings,
        language: str,
        threads: trio.CapacityLimiter,
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self._stub = stub
        self._first_request = first_request
        self._settings = settings
        self._language = language
        self._threads = threads
        self._metadata = metadata
        self._limit = int(settings.stream_limit * SAMPLE_RATE)
        self._overlap = int(settings.overlap * SAMPLE_RATE)
        self._replay = int(settings.replay * SAMPLE_RATE)
        self._history: deque[tuple[int, Pcm]] = deque()
        self._fed = 0
        # Streams not yet finished, oldest first. Only the head emits; a failed stream keeps its
        # place until its replacement takes it, so results always come out in time order.
        self._streams: list[Stream] = []
        self._all_streams: list[Stream] = []
        self._current: Stream | None = None
        self._utterance = 0
        self._partial: Hypothesis | None = None
        self._partial_owner: Stream | None = None
        self._last_final_end = 0.0
        self._failures = 0
        self._eof = False
        self._nursery: trio.Nursery | None = None
        self._events: trio.MemorySendChannel[LoopEvent] | None = None
        self._results: trio.MemorySendChannel[Hypothesis] | None = None
        self.streams_opened = 0
        """How many gRPC streams this recognizer opened (rollovers and retries included)."""

    async def run(
        self,
        audio: trio.MemoryReceiveChannel[RecognizerInput],
        results: trio.MemorySendChannel[Hypothesis],
    ) -> None:
        events_tx, events_rx = trio.open_memory_channel[LoopEvent](64)
        self._events, self._results = events_tx, results
        failure: EngineError | None = None
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._pump, audio, events_tx.clone())
            try:
                await self._loop(events_rx)
            except EngineError as exc:
                failure = exc  # re-raised below, outside the nursery, so it is not wrapped in a group
            finally:
                # Finished, failed or cancelled: no call may outlive us, and cancelling a call
                # is what makes its worker thread return promptly.
                for stream in self._all_streams:
                    stream.grpc.cancel()
                nursery.cancel_scope.cancel()
        if failure is not None:
            raise failure

    async def _pump(
        self, audio: trio.MemoryReceiveChannel[RecognizerInput], tx: trio.MemorySendChannel[LoopEvent]
    ) -> None:
        async with tx:
            async for item in audio:
                await tx.send(item)
            await tx.send(Eof())

    async def _loop(self, events: trio.MemoryReceiveChannel[LoopEvent]) -> None:
        async for event in events:
            if isinstance(event, AudioChunk):
                self._on_audio(event.pcm)
            elif isinstance(event, Flush):
                self._on_flush()
            elif isinstance(event, Eof):
                self._eof = True
                self._on_flush()
            elif isinstance(event, Response | Ended):
                await self._on_stream_event(event)
            elif isinstance(event, DrainExpired):
                stream = event.stream
                if stream in self._streams and not stream.failed:
                    log.warning("google stream did not finish within %.1f s; cancelling it",
                                self._settings.drain_timeout)
                    stream.cancelled = True
                    stream.grpc.cancel()
            elif isinstance(event, Reopen):
                await self._on_reopen(event.stream)
            if self._eof and not self._streams:
                return

    # -- audio side ---------------------------------------------------------------------------

    def _on_audio(self, pcm: Pcm) -> None:
        start = self._fed
        self._history.append((start, pcm))
        self._fed += len(pcm)
        while self._history and self._history[0][0] + len(self._history[0][1]) < self._fed - self._replay:
            self._history.popleft()
        current = self._current
        if current is None:
            self._open(start, start / SAMPLE_RATE)
        elif current.failed:
            pass  # kept in the history; the replacement replays it
        elif current.sent + len(pcm) > self._limit:
            boundary = max((start - self._overlap // 2) / SAMPLE_RATE, self._last_final_end)
            current.window.keep_until = boundary
            self._close(current, start)
            self._open(start - self._overlap, boundary)
        else:
            current.grpc.send_audio(_le_bytes(pcm))
            current.sent += len(pcm)

    def _on_flush(self) -> None:
        if self._current is not None:
            self._close(self._current, self._fed)

    def _open(self, offset: int, keep_from: float, *, until: int | None = None, at: int | None = None) -> Stream:
        """Start a stream whose audio begins at fed sample ``offset``, replaying history to ``until``.

        The stream is appended (a new current stream) or put at index ``at`` (a replacement).
        """
        assert self._nursery is not None
        history_start = self._history[0][0] if self._history else self._fed
        if offset < history_start:
            log.warning("google replay buffer too short: %.2f s of audio not re-sent",
                        (history_start - offset) / SAMPLE_RATE)
            offset = history_start
        end = self._fed if until is None else until
        stream = Stream(
            grpc=GrpcStream(
                self._stub,
                self._first_request(),
                deadline=self._settings.stream_limit + self._settings.replay + _DEADLINE_MARGIN,
                metadata=self._metadata,
            ),
            window=StreamWindow(offset=offset / SAMPLE_RATE, keep_from=keep_from),
            prev_end=max(offset / SAMPLE_RATE, keep_from),
        )
        self.streams_opened += 1
        self._all_streams.append(stream)
        if at is None:
            self._streams.append(stream)
            self._current = stream
        else:
            self._streams[at] = stream
        self._nursery.start_soon(self._run_stream, stream)
        for chunk_start, pcm in self._history:
            lo = max(offset, chunk_start) - chunk_start
            hi = min(end, chunk_start + len(pcm)) - chunk_start
            if hi > lo:
                stream.grpc.send_audio(_le_bytes(pcm[lo:hi]))
                stream.sent += hi - lo
        return stream

    def _close(self, stream: Stream, audio_end: int) -> None:
        """No more audio for ``stream``: half-close it and bound how long it may take to finish."""
        assert self._nursery is not None
        stream.closing = True
        stream.audio_end = audio_end
        if self._current is stream:
            self._current = None
        if not stream.failed:
            stream.grpc.half_close()
            self._nursery.start_soon(self._drain_timer, stream)

    async def _drain_timer(self, stream: Stream) -> None:
        assert self._events is not None
        await trio.sleep(self._settings.drain_timeout)
        await self._events.send(DrainExpired(stream))

    async def _run_stream(self, stream: Stream) -> None:
        assert self._events is not None
        error: grpc.RpcError | None = None
        deliver = partial(self._deliver, stream)
        try:
            await trio.to_thread.run_sync(stream.grpc.run, deliver, abandon_on_cancel=False, limiter=self._threads)
        except grpc.RpcError as exc:
            error = exc
        await self._events.send(Ended(stream, error))

    def _deliver(self, stream: Stream, response: StreamingRecognizeResponse) -> None:
        """Runs in the worker thread: hand one response to the loop (waits while it is busy)."""
        assert self._events is not None
        trio.from_thread.run(self._events.send, Response(stream, response))

    # -- failures and replacements ------------------------------------------------------------

    def _is_failure(self, stream: Stream, error: grpc.RpcError | None) -> bool:
        """Whether an ended stream left audio unrecognised (so it must be replaced)."""
        if stream.cancelled:
            return False
        if error is None:
            return not stream.closing  # the service ended a stream we still fed
        if error.code() not in TRANSIENT_CODES:
            raise EngineError(describe_rpc_error(error))
        return True

    def _fail(self, stream: Stream, error: grpc.RpcError | None) -> None:
        """Schedule ``stream``'s replacement after a backoff, or give up after too many failures."""
        assert self._nursery is not None
        self._failures += 1
        what = "ended early" if error is None else describe_rpc_error(error)
        if self._failures > self._settings.max_retries:
            raise EngineError(f"Google Speech failed {self._failures} times in a row; last: {what}")
        delay = min(self._settings.retry_max, self._settings.retry_base * 2 ** (self._failures - 1))
        delay = delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not security
        log.warning("google stream %s; retry %d in %.2f s", what, self._failures, delay)
        stream.failed = True
        stream.pending.clear()  # never emitted (not the head): the replacement redoes them
        self._nursery.start_soon(self._reopen_after, delay, stream)

    async def _reopen_after(self, delay: float, stream: Stream) -> None:
        assert self._events is not None
        await trio.sleep(delay)
        await self._events.send(Reopen(stream))

    async def _on_reopen(self, failed: Stream) -> None:
        """Put a replacement in ``failed``'s place, replaying what was not yet emitted."""
        window = failed.window
        # A stream that emitted nothing is re-run over its own window; one that did resumes
        # after the last final, so nothing already sent is sent twice.
        keep_from = max(window.keep_from, self._last_final_end) if failed.emitted else window.keep_from
        offset = max(int(keep_from * SAMPLE_RATE) - self._overlap // 2, round(window.offset * SAMPLE_RATE))
        index = self._streams.index(failed)
        if failed.audio_end is not None and failed.audio_end <= max(offset, int(keep_from * SAMPLE_RATE)):
            self._streams.remove(failed)  # nothing left to recognise
            if index == 0:
                await self._promote()
            return
        replacement = self._open(offset, keep_from, until=failed.audio_end, at=index)
        replacement.window.keep_until = window.keep_until
        if self._current is failed:
            self._current = replacement
        if self._partial_owner is failed:
            self._partial_owner = replacement
        if failed.closing:
            self._close(replacement, failed.audio_end if failed.audio_end is not None else self._fed)

    # -- results side -------------------------------------------------------------------------

    async def _on_stream_event(self, event: Response | Ended) -> None:
        stream = event.stream
        if isinstance(event, Ended) and self._is_failure(stream, event.error):
            self._fail(stream, event.error)
        elif self._streams and self._streams[0] is stream and not stream.pending:
            if isinstance(event, Response):
                await self._on_response(stream, event.response)
            else:
                await self._on_finished(stream)
        else:
            stream.pending.append(event)

    async def _promote(self) -> None:
        """The head finished: let the next stream emit what it buffered, in order."""
        while self._streams and self._streams[0].pending:
            head = self._streams[0]
            item = head.pending.pop(0)
            if isinstance(item, Response):
                await self._on_response(head, item.response)
            else:
                await self._on_finished(head, promote=False)

    async def _on_finished(self, stream: Stream, *, promote: bool = True) -> None:
        """A stream we closed has ended (cleanly, or cancelled after the drain timeout)."""
        self._streams.remove(stream)
        if stream.cancelled:
            log.warning("google stream cancelled after the drain timeout; its partial becomes final")
        if self._partial is not None and self._partial_owner is stream:
            p = self._partial
            await self._emit(p.text, p.start, p.start + p.duration, p.confidence, p.words, True)
        if promote:
            await self._promote()

    async def _on_response(self, stream: Stream, response: StreamingRecognizeResponse) -> None:
        results = list(response.results)
        if not results:
            return
        self._failures = 0
        finals = [r for r in results if r.is_final]
        interim = [r for r in results if not r.is_final]
        fallback = self._settings.fallback_confidence
        for result in finals:
            piece = convert_results([result], stream.window, stream.prev_end, fallback)
            stream.prev_end = results_end([result], stream.window, stream.prev_end)
            if piece is not None:
                await self._emit(piece.text, piece.start, piece.end, piece.confidence, piece.words, True)
                stream.emitted = True
            elif self._partial_owner is stream:
                # Everything belongs to the next stream, which will finish this utterance.
                self._partial_owner = None
        if interim:
            piece = convert_results(interim, stream.window, stream.prev_end, fallback)
            if piece is not None:
                await self._emit(piece.text, piece.start, piece.end, piece.confidence, piece.words, False)
                self._partial_owner = stream
                stream.emitted = True

    async def _emit(
        self, text: str, start: float, end: float, confidence: float, words: Sequence[Word], is_final: bool
    ) -> None:
        assert self._results is not None
        hypothesis = Hypothesis(
            utterance=self._utterance,
            text=text,
            is_final=is_final,
            start=start,
            duration=max(0.0, end - start),
            confidence=confidence,
            words=tuple(words),
            language=self._language,
            timing="engine",
        )
        if is_final:
            self._utterance += 1
            self._partial = None
            self._partial_owner = None
            self._last_final_end = max(self._last_final_end, end)
        else:
            self._partial = hypothesis
        await self._results.send(hypothesis)
