"""Recognizer tasks of one session: one per channel, grouped in generations.

A *generation* is the set of recognizers started by one ``StartTranscription`` (the call's
start, or a restart after ``update`` changed the language). Stopping a generation closes its
recognizers' input; they emit their finals and return. A newer generation can already be
running while an older one drains, so each run keeps its own timeline map and utterance ids.

Audio reaches a recognizer in chunks of at least ``chunk_samples`` (100 ms by default, the
size Google recommends for streaming): a call sending 20 ms frames then wakes each recognizer
task five times less often (each wake-up is a scheduler round: ~12 % of the protocol path's
CPU at 1000 calls even so). A pause,
``update`` or ``close`` hands over what is pending at once.

Audio into a recognizer is bounded by ``max_buffered_seconds``: when an engine falls that far
behind, new audio for that channel is dropped (and counted) instead of growing memory; the
timeline map records the gap, so later offsets stay exact.

What a recognizer (or the translator after it) produces goes, with the time its last audio
arrived and the channel's :class:`~connector.protocol.Track`, to the session's
:class:`TranscriptSink`, which hands it to the machine's outbox (utterance ids, the event).
"""

from __future__ import annotations

import array
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import trio

from ..asr import AudioChunk, EngineError, EngineFactory, Flush, RecognizerInput, RecognizerSpec
from ..audio.timeline import TimelineMap
from ..observe import NullObserver, Observer
from ..protocol import CallSettings, Track
from ..translate.ordering import TranslationSink
from ..vocabulary import SAMPLE_RATE, Hypothesis

__all__ = ["ChannelRun", "Generation", "Pipeline", "TranscriptSink"]

log = logging.getLogger(__name__)

_ARRIVALS_KEPT = 256
"""Frames whose arrival time is kept per channel for latency metrics (older audio reports ``None``).
A final's latency is measured from its *end*, which is recent audio: 256 frames are 5 s of 20 ms frames."""

_TIMELINE_KEPT_BEFORE_FINAL = 60 * SAMPLE_RATE
"""After a final, the timeline map forgets the gaps that ended this long (fed samples) before its
start: a recognizer's next utterances start after it, give or take a pre-roll (at most 2 s) or a
trimmed stream overlap, so a minute is far more than any engine reaches back."""


class _Arrivals:
    """When each fed frame arrived: a fixed ring of (fed end sample, trio time), 16 bytes a frame.

    Kept in flat ``array`` buffers rather than a deque of tuples because every frame of every
    call adds one: Python tuples cost ~150 bytes each and are traversed by the garbage
    collector. (``array`` rather than numpy: a scalar store into it is a third of the cost;
    look-ups view the same memory through numpy.)
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.ends = array.array("q", bytes(8 * size))
        self.times = array.array("d", bytes(8 * size))
        self.count = 0
        self.first_start = 0  # fed sample where the oldest kept frame starts

    def add(self, fed_start: int, fed_end: int, now: float) -> None:
        i = self.count % self.size
        if self.count == 0:
            self.first_start = fed_start
        elif self.count >= self.size:
            self.first_start = self.ends[i]  # the next-oldest frame starts where this one ended
        self.ends[i] = fed_end
        self.times[i] = now
        self.count += 1

    def at(self, sample: float) -> float | None:
        if not self.count or sample < self.first_start:
            return None
        size = self.size
        all_ends, all_times = np.frombuffer(self.ends, dtype=np.int64), np.frombuffer(self.times, dtype=np.float64)
        if self.count <= size:
            ends, times = all_ends[: self.count], all_times[: self.count]
        else:
            head = self.count % size
            ends = np.concatenate((all_ends[head:], all_ends[:head]))
            times = np.concatenate((all_times[head:], all_times[:head]))
        index = int(np.searchsorted(ends, sample, side="left"))
        return float(times[min(index, len(times) - 1)])


class TranscriptSink(Protocol):
    """Where a channel's results go, with the time their last audio arrived: the session hands
    them to its machine (and so to the outbox) and wakes the writer."""

    def __call__(self, track: Track, hypothesis: Hypothesis, heard_at: float | None) -> None: ...


class Pipeline(Protocol):
    """A stage between a recognizer and the outbox (the translator): reads ``inbox``, writes
    ``outbox`` and closes it when done, counting what it did into ``counters``."""

    def __call__(
        self,
        inbox: trio.MemoryReceiveChannel[Hypothesis],
        outbox: trio.MemorySendChannel[Hypothesis],
        *,
        counters: TranslationSink,
    ) -> Awaitable[None]: ...


@dataclass
class ChannelRun:
    """One recognizer for one channel in one generation."""

    channel: int
    language: str
    max_buffered_samples: int
    engine: str = ""
    partials: bool = True
    observer: Observer = field(default_factory=NullObserver)
    timeline: TimelineMap = field(default_factory=TimelineMap)
    chunk_samples: int = 0
    buffered_samples: int = 0
    """Pending plus queued in the channel (what the drop rule bounds)."""
    closed: bool = False

    def __post_init__(self) -> None:
        self.send, self.receive = trio.open_memory_channel[RecognizerInput](math.inf)
        self._queued_sizes: deque[int] = deque()  # samples of each item still in the channel, oldest first
        self.track = Track(self.channel, self.language, self.engine, self.partials, self.timeline.to_stream)
        """What the outbox knows this recognizer's transcripts by."""
        self._drop_logged = False
        self._arrivals = _Arrivals(_ARRIVALS_KEPT)
        self._pending: list[npt.NDArray[np.int16]] = []
        self._pending_samples = 0

    def heard_at(self, relative_seconds: float) -> float | None:
        """When the fed sample at ``relative_seconds`` arrived (trio clock), if still known."""
        return self._arrivals.at(relative_seconds * SAMPLE_RATE)

    def delivered(self, hypothesis: Hypothesis) -> None:
        """``hypothesis`` went to the outbox (mapped): after a final, prune the timeline map."""
        if hypothesis.is_final:
            start = min([hypothesis.start, *(word.start for word in hypothesis.words)])
            self.timeline.forget_before(start * SAMPLE_RATE - _TIMELINE_KEPT_BEFORE_FINAL)

    def _settle(self) -> None:
        """Forget what the recognizer has taken: the channel is FIFO, so the items still in it
        are the newest ``current_buffer_used`` of those queued."""
        used = self.send.statistics().current_buffer_used
        while len(self._queued_sizes) > used:
            self.buffered_samples -= self._queued_sizes.popleft()

    def feed(self, pcm: npt.NDArray[np.int16], stream_sample: int, now: float) -> None:
        if self.closed:
            return
        if self.buffered_samples + len(pcm) > self.max_buffered_samples:
            self._settle()  # only near the bound: the count is an upper bound until settled
        if self.buffered_samples + len(pcm) > self.max_buffered_samples:
            self.observer.backpressure("audio_dropped_seconds", len(pcm) / SAMPLE_RATE)
            if not self._drop_logged:
                self._drop_logged = True
                log.warning("engine is behind real time: dropping audio", extra={"channel": self.channel})
            return
        self.buffered_samples += len(pcm)
        fed_before = self.timeline.fed
        self.timeline.feed(stream_sample, len(pcm))
        self._arrivals.add(fed_before, self.timeline.fed, now)
        self._pending.append(pcm)
        self._pending_samples += len(pcm)
        if self._pending_samples >= self.chunk_samples:
            self._hand_over()

    def _hand_over(self) -> None:
        """Send what is pending as one chunk (fed samples are contiguous, so joining is exact)."""
        if not self._pending:
            return
        pending = self._pending
        pcm = pending[0] if len(pending) == 1 else np.concatenate(pending)
        self._pending, self._pending_samples = [], 0
        if len(self._queued_sizes) >= 32:
            self._settle()  # keeps the bookkeeping small on a long call
        self._queued_sizes.append(len(pcm))
        self.send.send_nowait(AudioChunk(pcm))

    def flush(self) -> None:
        if not self.closed:
            self._hand_over()
            self._queued_sizes.append(0)
            self.send.send_nowait(Flush())

    def close(self) -> None:
        if not self.closed:
            self._hand_over()
            self.closed = True
            self.send.close()


@dataclass(eq=False)
class Generation:
    """The recognizers of one start; run as one task with its own cancel scope."""

    settings: CallSettings
    engine: EngineFactory
    limiter: trio.CapacityLimiter
    sink: TranscriptSink
    on_failure: Callable[[str], None]
    observer: Observer = field(default_factory=NullObserver)
    max_buffered_seconds: float = 30.0
    chunk_seconds: float = 0.1
    pipeline: Pipeline | None = None
    partials: bool = True
    after: Sequence[trio.Event] = ()
    """The ``done`` of generations still running when this one started (an ``update`` restarted
    the recognizers): their last finals, perhaps still being translated, go before ours."""
    runs: list[ChannelRun] = field(default_factory=list)
    cancel_scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    done: trio.Event = field(default_factory=trio.Event)

    def __post_init__(self) -> None:
        self.runs = [
            ChannelRun(
                channel=index,
                language=self.settings.language,
                max_buffered_samples=int(self.max_buffered_seconds * SAMPLE_RATE),
                chunk_samples=int(self.chunk_seconds * SAMPLE_RATE),
                engine=self.engine.name,
                partials=self.partials,
                observer=self.observer,
            )
            for index in range(len(self.settings.channels))
        ]

    def feed(self, channels: Sequence[npt.NDArray[np.int16]], stream_sample: int) -> None:
        now = trio.current_time()
        for run, pcm in zip(self.runs, channels, strict=False):
            run.feed(pcm, stream_sample, now)

    def flush(self) -> None:
        for run in self.runs:
            run.flush()

    def stop(self) -> None:
        for run in self.runs:
            run.close()

    async def run(self) -> None:
        """All channels' tasks in one nursery (no task per channel just to hold a nursery:
        every parked task is memory and collector work, times a thousand calls)."""
        try:
            with self.cancel_scope:
                async with trio.open_nursery() as nursery:
                    for run in self.runs:
                        results_send, results_receive = trio.open_memory_channel[Hypothesis](math.inf)
                        nursery.start_soon(self._recognize, run, results_send)
                        if self.pipeline is None:
                            nursery.start_soon(self._deliver, run, results_receive)
                        else:
                            translated_send, translated_receive = trio.open_memory_channel[Hypothesis](math.inf)
                            nursery.start_soon(self._translate, results_receive, translated_send)
                            nursery.start_soon(self._deliver, run, translated_receive)
        finally:
            for run in self.runs:
                run.close()
            self.done.set()

    async def _recognize(self, run: ChannelRun, results: trio.MemorySendChannel[Hypothesis]) -> None:
        options: Mapping[str, Any] = self.settings.options
        spec = RecognizerSpec(channel=run.channel, language=run.language, options=options, partials=self.partials)
        async with results:
            try:
                recognizer = self.engine.create(spec, self.limiter)
                await recognizer.run(run.receive, results)
            except Exception as exc:
                info = str(exc) if isinstance(exc, EngineError) else "transcription engine failed"
                log.exception("recognizer failed", extra={"channel": run.channel, "engine": self.engine.name})
                run.close()
                self.on_failure(info)
            finally:
                run.close()
                run.receive.close()

    async def _deliver(self, run: ChannelRun, receive: trio.MemoryReceiveChannel[Hypothesis]) -> None:
        async with receive:
            for earlier in self.after:  # in spoken order: the stopped recognizers' finals first
                await earlier.wait()  # (meanwhile our results wait in the channel)
            async for hypothesis in receive:
                self.sink(run.track, hypothesis, run.heard_at(hypothesis.start + hypothesis.duration))
                run.delivered(hypothesis)

    async def _translate(
        self, inbox: trio.MemoryReceiveChannel[Hypothesis], outbox: trio.MemorySendChannel[Hypothesis]
    ) -> None:
        assert self.pipeline is not None
        async with inbox, outbox:
            await self.pipeline(inbox, outbox, counters=self.observer)
