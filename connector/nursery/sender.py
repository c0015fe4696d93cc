"""The session's single sender: the only task that writes to the WebSocket.

Three lanes (see :class:`connector.protocol.Lane`): control messages go first and are never
delayed; transcript events go in order through the token bucket and the 429 back-off;
``closed`` goes after the last event. ``seq`` is stamped as each message leaves.

Backpressure, as documented in ``docs/backpressure.md``: finals are never dropped. A newer
partial replaces a queued partial of the same utterance, and a final replaces its queued
partials (counted as ``partials_superseded``). When more than ``batch_threshold`` finals
wait, or ``closed`` is queued behind more events than the bucket can send at once, several
are packed into one ``event`` (the protocol allows several entities), up to the size limit.
A partial is dropped only when the queue holds ``max_queued`` entries (``partials_dropped``).
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from ..observe import NullObserver, Observer
from ..protocol import Lane, Send, ServerMessage, SessionMachine
from .token_bucket import TokenBucket

__all__ = ["Sender", "SenderStats"]

log = logging.getLogger(__name__)

MAX_EVENT_CHARS = 60_000  # below the 65535-character limit, with room for the envelope
CLOSING_BACKOFF_CAP = 3.0
"""Once ``closed`` is queued a 429 holds events at most this long: the client gives up on
``closed`` after 10 s (408), and losing the finals would be worse than a late rate limit."""


@dataclass
class SenderStats:
    messages_sent: int = 0
    events_sent: int = 0
    partials_superseded: int = 0
    partials_dropped: int = 0
    batched_events: int = 0
    max_queue_depth: int = 0
    bucket_delay_seconds: float = 0.0
    backoff_delay_seconds: float = 0.0
    backoffs: int = 0


@dataclass
class _QueuedEvent:
    key: str
    is_final: bool
    entity: dict[str, Any]
    engine: str = ""
    heard_at: float | None = None
    size: int = 0


@dataclass
class Sender:
    machine: SessionMachine
    send_text: Callable[[str], Awaitable[None]]
    rate: float = 5.0
    burst: float = 25.0
    batch_threshold: int = 0
    """Pack waiting finals into one event once more than this many wait (0 = never batch)."""
    max_queued: int = 500
    send_timeout: float = 10.0
    observer: Observer = field(default_factory=NullObserver)
    on_written: Callable[[ServerMessage], None] | None = None
    stats: SenderStats = field(default_factory=SenderStats)

    def __post_init__(self) -> None:
        self._bucket = TokenBucket(self.rate, self.burst)
        self._control: deque[ServerMessage] = deque()
        self._events: deque[_QueuedEvent] = deque()
        self._pending_partial: dict[str, _QueuedEvent] = {}
        self._last: ServerMessage | None = None
        self._backoff_until = -float("inf")
        self._wakeup = trio.Event()
        self.finished = trio.Event()
        """Set once ``closed`` has been written (nothing may follow it)."""

    # --------------------------------------------------------------- producers

    def put(self, item: Send) -> None:
        if item.lane is Lane.CONTROL:
            self._control.append(item.message)
        elif item.lane is Lane.LAST:
            self._last = item.message
            self._backoff_until = min(self._backoff_until, trio.current_time() + CLOSING_BACKOFF_CAP)
        else:
            for entity in item.message.parameters.get("entities", ()):
                self.put_entity(entity)
        self._wakeup.set()

    def put_entity(self, entity: dict[str, Any], *, engine: str = "", heard_at: float | None = None) -> None:
        """Queue one transcript entity, superseding a queued partial of the same utterance.

        ``heard_at`` is when the audio that ends this transcript arrived (for latency metrics).
        """
        data = entity.get("data", {})
        key = str(data.get("id", ""))
        is_final = bool(data.get("isFinal", True))
        queued = self._pending_partial.pop(key, None)
        if queued is not None:
            queued.entity, queued.is_final, queued.heard_at = entity, is_final, heard_at
            queued.size = 0
            self._count("partial_superseded")
            if not is_final:
                self._pending_partial[key] = queued
        else:
            if len(self._events) >= self.max_queued and self._drop_oldest_partial():
                self._count("partial_dropped")
            if len(self._events) >= self.max_queued and not is_final:
                self._count("partial_dropped")
                return
            event = _QueuedEvent(key, is_final, entity, engine, heard_at)
            self._events.append(event)
            self.observer.sender_queue_depth(1)
            if not is_final:
                self._pending_partial[key] = event
        self.stats.max_queue_depth = max(self.stats.max_queue_depth, len(self._events))
        self._wakeup.set()

    def _count(self, what: str) -> None:
        if what == "partial_superseded":
            self.stats.partials_superseded += 1
        elif what == "partial_dropped":
            self.stats.partials_dropped += 1
        self.observer.backpressure(what, 1)

    def _drop_oldest_partial(self) -> bool:
        for event in self._events:
            if not event.is_final:
                self._events.remove(event)
                self.observer.sender_queue_depth(-1)
                self._pending_partial.pop(event.key, None)
                return True
        return False

    def discard_queue(self) -> None:
        """Forget queued events (the connection is gone); keeps the depth gauge honest."""
        if self._events:
            self.observer.sender_queue_depth(-len(self._events))
            self._events.clear()
            self._pending_partial.clear()

    def backoff(self, seconds: float) -> None:
        """The client sent 429: no events until ``retryAfter`` has passed (control still flows)."""
        self.stats.backoffs += 1
        if self._last is not None:
            seconds = min(seconds, CLOSING_BACKOFF_CAP)
        self._backoff_until = max(self._backoff_until, trio.current_time() + max(0.0, seconds))
        self._wakeup.set()

    @property
    def queue_depth(self) -> int:
        return len(self._events)

    @property
    def idle(self) -> bool:
        return not self._control and not self._events and self._last is None

    # ---------------------------------------------------------------- the task

    async def run(self) -> None:
        """Write messages until ``closed`` is sent; cancelled by the session otherwise."""
        while True:
            if self._control:
                await self._write(self._control.popleft())
                self._bucket.take(trio.current_time())
                continue
            if self._events:
                await self._send_next_event()
                continue
            if self._last is not None:
                await self._write(self._last)
                self._last = None
                self.finished.set()
                return
            self._wakeup = trio.Event()
            await self._wakeup.wait()

    async def _send_next_event(self) -> None:
        now = trio.current_time()
        bucket_at = self._bucket.ready_at(now)
        ready_at = max(bucket_at, self._backoff_until)
        if ready_at > now:
            self._wakeup = trio.Event()
            with trio.move_on_at(ready_at):
                await self._wakeup.wait()
            waited = trio.current_time() - now
            if self._backoff_until > now:
                self.stats.backoff_delay_seconds += waited
                self.observer.sender_delayed("backoff", waited)
            else:
                self.stats.bucket_delay_seconds += waited
                self.observer.sender_delayed("rate", waited)
            return  # re-evaluate: a control message may have arrived meanwhile
        batch = self._take_batch()
        self.observer.sender_queue_depth(-len(batch))
        for effect in self.machine.event([queued.entity for queued in batch]):
            if isinstance(effect, Send):
                await self._write(effect.message)
                self.stats.events_sent += 1
                if len(batch) > 1:
                    self.stats.batched_events += 1
                    self.observer.backpressure("events_batched", len(batch))
                sent_at = trio.current_time()
                for queued in batch:
                    latency = None if queued.heard_at is None else sent_at - queued.heard_at
                    self.observer.transcript_sent(queued.engine, queued.is_final, latency)
        self._bucket.take(trio.current_time())

    def _take_batch(self) -> list[_QueuedEvent]:
        first = self._events.popleft()
        self._forget(first)
        batch = [first]
        # Before ``closed``, pack only what the bucket could not send at once: one transcript
        # per event stays the rule (some clients read only ``entities[0]``).
        closing_behind = self._last is not None and len(self._events) >= self._bucket.tokens
        if not closing_behind and (
            self.batch_threshold <= 0 or sum(e.is_final for e in self._events) <= self.batch_threshold
        ):
            return batch
        size = _size(first)
        while self._events and self._events[0].is_final:
            nxt = self._events[0]
            if size + _size(nxt) > MAX_EVENT_CHARS:
                break
            size += _size(nxt)
            batch.append(self._events.popleft())
        return batch

    def _forget(self, event: _QueuedEvent) -> None:
        if self._pending_partial.get(event.key) is event:
            del self._pending_partial[event.key]

    async def _write(self, message: ServerMessage) -> None:
        text = self.machine.stamp(message)
        with trio.fail_after(self.send_timeout):
            await self.send_text(text)
        self.stats.messages_sent += 1
        self.observer.message_sent(message.type)
        if self.on_written is not None:
            self.on_written(message)


def _size(event: _QueuedEvent) -> int:
    if not event.size:
        event.size = len(json.dumps(event.entity, ensure_ascii=False))
    return event.size
