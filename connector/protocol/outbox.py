"""What the session sends, in what order and when: the outbox, sans-IO.

Everything the server writes on the socket passes through one :class:`Outbox`: control messages
from the session machine (``opened``, ``pong``, ``disconnect``...), transcripts from the
recognizers as ``(track, Hypothesis, heard_at)``, and ``closed``. The runtime's writer asks
:meth:`Outbox.next` with the time and gets one answer: a message to write now (already
serialised, ``seq`` stamped), a time to wait until, or nothing queued. No socket, no clock, no
task here, so every rule below is tested without trio (``tests/protocol/test_outbox*.py``).

The rules (``docs/backpressure.md`` has the operator's view):

* **Lanes.** Control messages go before queued events and are not paced (they still spend a
  token, so the client's rate limit sees the total); transcript events go in order through the
  token bucket and any 429 back-off; ``closed`` goes after the last queued event.
* **Utterance ids.** One UUID per utterance of a track, from its first partial to its final.
* **One size limit.** An ``event``'s entities take at most :data:`MAX_EVENT_UNITS` UTF-16 code
  units (clients count JavaScript string length and refuse a text message over 65 535); an
  oversized final becomes consecutive finals, an oversized partial is skipped (its final follows).
* **Superseding and dropping.** A newer partial, or the final, of an utterance replaces its queued
  partial in place. Only at ``max_queued`` entries is a partial dropped; finals never are.
* **Batching.** Past ``batch_threshold`` waiting finals, or when ``closed`` or the end of a 429
  back-off finds more events waiting than the bucket can send at once, finals are packed into one
  ``event``.
* **429.** Events wait exactly ``retryAfter`` (1 s when absent; a later 429 can only extend the
  wait), but never longer than ``max_backoff`` (a client asking for an hour would keep every final
  off the wire for the rest of the call), nor longer than :data:`CLOSING_BACKOFF_CAP` once
  ``closed`` is queued. Finals are never dropped, so a client that keeps answering 429 makes the
  backlog grow: past ``max_queued`` waiting finals the outbox reports :attr:`Outbox.overflowing`
  and the machine asks the client to end the call, whose ``close`` then flushes the backlog.
* **One serialisation.** Each entity is serialised once when queued; a message is assembled
  from those texts when it leaves, with its ``seq``.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..vocabulary import Hypothesis
from .messages import ServerMessage, encode_envelope, encode_server_message
from .token_bucket import TokenBucket
from .transcript import split_hypothesis, transcript_entity, utf16_units

__all__ = [
    "CLOSING_BACKOFF_CAP",
    "MAX_BACKOFF",
    "MAX_EVENT_UNITS",
    "Carried",
    "Outbox",
    "OutboxObserver",
    "Outgoing",
    "Track",
]

MAX_EVENT_UNITS = 60_000
"""UTF-16 code units the entities of one ``event`` may take together: clients count JavaScript
string length and refuse a text message over 65 535 (413); the rest is room for the envelope."""

MAX_BACKOFF = 30.0
"""Longest wait one 429 can impose on events (its ``retryAfter`` is capped to this)."""

CLOSING_BACKOFF_CAP = 3.0
"""Once ``closed`` is queued a 429 holds events at most this long: the client gives up on
``closed`` after 10 s (408), and losing the finals would be worse than a late rate limit."""

_MAX_SPLIT_DEPTH = 32


def _identity(seconds: float) -> float:
    return seconds


@dataclass(frozen=True, eq=False, slots=True)
class Track:
    """Where transcripts come from: one recognizer on one channel of one start.

    Compared by identity: a restart (``update``) makes new tracks, whose utterances get new ids
    even though the engine numbers them from 0 again. ``to_stream`` maps the engine's seconds
    (from the first sample fed to it) onto the stream's timeline.
    """

    channel: int
    language: str
    engine: str = ""
    partials: bool = True
    to_stream: Callable[[float], float] = _identity


@dataclass(frozen=True, slots=True)
class Carried:
    """One transcript entity in an outgoing ``event``: for metrics and the transcript store once
    it is written."""

    engine: str
    is_final: bool
    heard_at: float | None
    """When the audio that ends the transcript arrived (the runtime's clock), if known."""
    data: Mapping[str, Any] | None = None
    """The entity's ``data`` exactly as sent (the store keeps finals; webhooks may want partials)."""
    source_text: str | None = None
    """A translated final's original text (:attr:`Hypothesis.source_text`)."""
    source_language: str | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to write now: its text (``seq`` stamped) and what it carries."""

    type: str
    text: str
    transcripts: tuple[Carried, ...] = ()


class OutboxObserver(Protocol):
    """The counting hooks the outbox calls (:class:`connector.observe.Observer` has them all)."""

    def backpressure(self, what: str, amount: float) -> None: ...

    def sender_delayed(self, cause: str, seconds: float) -> None: ...

    def sender_queue_depth(self, depth: int) -> None: ...


class _Silent:
    def backpressure(self, what: str, amount: float) -> None:
        pass

    def sender_delayed(self, cause: str, seconds: float) -> None:
        pass

    def sender_queue_depth(self, depth: int) -> None:
        pass


@dataclass(slots=True)
class _Queued:
    key: str
    is_final: bool
    text: str
    units: int
    carried: Carried


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Outbox:
    """The session's outgoing messages; see the module docstring for the rules."""

    session_id: str
    rate: float = 5.0
    burst: float = 25.0
    batch_threshold: int = 0
    """Pack waiting finals into one event once more than this many wait (0 = never batch)."""
    max_queued: int = 500
    """Queue entries past which a partial is dropped, and waiting finals past which the outbox
    reports :attr:`overflowing` (finals themselves are never dropped)."""
    max_units: int = MAX_EVENT_UNITS
    max_backoff: float = MAX_BACKOFF
    observer: OutboxObserver = field(default_factory=_Silent)
    new_id: Callable[[], str] = _new_id
    seq: int = 0
    """``seq`` of the last message handed out (the client checks ``serverseq`` against it)."""
    finished: bool = False
    """``closed`` has been handed out: nothing may follow it."""
    news: bool = False
    """Set whenever something is queued or the back-off changes; the runtime clears it when it
    wakes its writer (a flag, not an event: it is checked after every audio frame)."""

    def __post_init__(self) -> None:
        self._bucket = TokenBucket(self.rate, self.burst)
        self._control: deque[ServerMessage] = deque()
        self._events: deque[_Queued] = deque()
        self._pending_partial: dict[str, _Queued] = {}
        self._ids: dict[tuple[Track, int], str] = {}
        self._last: ServerMessage | None = None
        self._backoff_until = -float("inf")
        self._cap_backoff = False
        self._catching_up = False
        self._finals = 0
        self._waiting: tuple[float, str] | None = None

    # ------------------------------------------------------------- producers

    def control(self, message: ServerMessage) -> None:
        """A control message: next out, ahead of queued events."""
        if not self.finished:
            self._control.append(message)
            self.news = True

    def closed(self) -> None:
        """``closed``: after every queued event; caps a running 429 back-off."""
        if not self.finished and self._last is None:
            self._last = ServerMessage("closed", {})
            self._cap_backoff = True
            self.news = True

    def backoff(self, seconds: float, now: float) -> None:
        """The client sent 429: no events until ``seconds`` have passed (control still flows)."""
        seconds = min(seconds, CLOSING_BACKOFF_CAP if self._last is not None else self.max_backoff)
        self._backoff_until = max(self._backoff_until, now + max(0.0, seconds))
        self._catching_up = True
        self.news = True

    def transcript(self, track: Track, hypothesis: Hypothesis, heard_at: float | None = None) -> int:
        """Queue ``hypothesis`` from ``track``; returns how many entities were queued.

        A partial of a track without partials, an empty text and anything after ``closed``
        queue nothing. An empty final still ends its utterance (its id is not reused).
        """
        if self.finished or not (hypothesis.is_final or track.partials):
            return 0
        key = (track, hypothesis.utterance)
        utterance_id = self._ids.get(key)
        if utterance_id is None:
            utterance_id = self._ids[key] = self.new_id()
        if hypothesis.is_final:
            del self._ids[key]
        if not hypothesis.text.strip():
            return 0  # nothing was said after all: no empty utterance for analytics
        entities = self._entities(track, hypothesis, utterance_id, 0)
        source_text = hypothesis.source_text
        source_language = hypothesis.source_language or (track.language if source_text else None)
        for entity_id, text, units, data in entities:
            carried = Carried(track.engine, hypothesis.is_final, heard_at, data, source_text, source_language)
            self._enqueue(_Queued(entity_id, hypothesis.is_final, text, units, carried))
        self.news = self.news or bool(entities)
        return len(entities)

    def discard(self) -> None:
        """Forget queued events (the connection is gone); keeps the depth gauge honest."""
        if self._events:
            self.observer.sender_queue_depth(-len(self._events))
            self._events.clear()
            self._pending_partial.clear()
            self._finals = 0

    # -------------------------------------------------------------- consumer

    def next(self, now: float, clientseq: int) -> Outgoing | float | None:
        """What to write at ``now``: a message (taken from the queue), the earliest time an
        event may go, or ``None`` when nothing is queued. ``clientseq`` is the last client
        ``seq`` received (the envelope echoes it)."""
        if self.finished:
            return None
        if self._cap_backoff:
            self._cap_backoff = False
            self._backoff_until = min(self._backoff_until, now + CLOSING_BACKOFF_CAP)
        if self._control:
            self._end_wait(now)
            self._bucket.take(now)
            message = self._control.popleft()
            return self._stamp(message, clientseq)
        if self._events:
            ready_at = max(self._bucket.ready_at(now), self._backoff_until)
            if ready_at > now:
                if self._waiting is None:
                    self._waiting = (now, "backoff" if self._backoff_until > now else "rate")
                return ready_at
            self._end_wait(now)
            batch = self._take_batch()
            self._bucket.take(now)
            self.observer.sender_queue_depth(-len(batch))
            if len(batch) > 1:
                self.observer.backpressure("events_batched", len(batch))
            self.seq += 1
            entities = '{"entities":[' + ",".join(queued.text for queued in batch) + "]}"
            text = encode_envelope("event", self.session_id, self.seq, clientseq, entities)
            return Outgoing("event", text, tuple(queued.carried for queued in batch))
        if self._last is not None:
            self._end_wait(now)
            last, self._last = self._last, None
            self.finished = True
            return self._stamp(last, clientseq)
        return None

    @property
    def queue_depth(self) -> int:
        return len(self._events)

    @property
    def overflowing(self) -> bool:
        """More finals wait than ``max_queued``: the client has held events back too long."""
        return self._finals > self.max_queued

    @property
    def idle(self) -> bool:
        return not self._control and not self._events and self._last is None

    # -------------------------------------------------------------- internals

    def _stamp(self, message: ServerMessage, clientseq: int) -> Outgoing:
        self.seq += 1
        text = encode_server_message(message, session_id=self.session_id, seq=self.seq, clientseq=clientseq)
        return Outgoing(message.type, text)

    def _end_wait(self, now: float) -> None:
        if self._waiting is not None:
            since, cause = self._waiting
            self._waiting = None
            self.observer.sender_delayed(cause, max(0.0, now - since))

    def _entities(
        self, track: Track, hypothesis: Hypothesis, utterance_id: str, depth: int
    ) -> list[tuple[str, str, int, Mapping[str, Any]]]:
        """``(id, JSON text, UTF-16 units, data)`` of each entity, each under the size limit."""
        entity = transcript_entity(
            hypothesis,
            utterance_id=utterance_id,
            channel_id=track.channel,
            to_stream=track.to_stream,
            language=hypothesis.language or track.language,
        )
        text = json.dumps(entity, separators=(",", ":"), ensure_ascii=False)
        units = utf16_units(text)
        if units <= self.max_units:
            return [(utterance_id, text, units, entity["data"])]
        if not hypothesis.is_final or depth > _MAX_SPLIT_DEPTH:
            return []
        parts: list[tuple[str, str, int, Mapping[str, Any]]] = []
        for index, part in enumerate(split_hypothesis(hypothesis, self.max_units)):
            parts += self._entities(track, part, utterance_id if index == 0 else self.new_id(), depth + 1)
        return parts

    def _enqueue(self, event: _Queued) -> None:
        queued = self._pending_partial.pop(event.key, None)
        if queued is not None:
            queued.is_final, queued.text, queued.units, queued.carried = (
                event.is_final, event.text, event.units, event.carried,
            )  # fmt: skip
            self._finals += event.is_final
            self.observer.backpressure("partial_superseded", 1)
            if not event.is_final:
                self._pending_partial[event.key] = queued
            return
        if len(self._events) >= self.max_queued and self._drop_oldest_partial():
            self.observer.backpressure("partial_dropped", 1)
        if len(self._events) >= self.max_queued and not event.is_final:
            self.observer.backpressure("partial_dropped", 1)
            return
        self._events.append(event)
        self._finals += event.is_final
        self.observer.sender_queue_depth(1)
        if not event.is_final:
            self._pending_partial[event.key] = event

    def _drop_oldest_partial(self) -> bool:
        for event in self._events:
            if not event.is_final:
                self._events.remove(event)
                self.observer.sender_queue_depth(-1)
                self._pending_partial.pop(event.key, None)
                return True
        return False

    def _take_batch(self) -> list[_Queued]:
        first = self._events.popleft()
        if self._pending_partial.get(first.key) is first:
            del self._pending_partial[first.key]
        batch = [first]
        # Before ``closed`` or after a 429, pack only what the bucket could not send at once: one
        # transcript per event stays the rule (some clients read only ``entities[0]``).
        behind = (self._last is not None or self._catching_up) and len(self._events) >= self._bucket.tokens
        if not behind and (self.batch_threshold <= 0 or self._finals - first.is_final <= self.batch_threshold):
            self._taken(batch)
            return batch
        units = first.units
        while self._events and self._events[0].is_final:
            nxt = self._events[0]
            if units + 1 + nxt.units > self.max_units:
                break
            units += 1 + nxt.units
            batch.append(self._events.popleft())
        self._taken(batch)
        return batch

    def _taken(self, batch: list[_Queued]) -> None:
        self._finals -= sum(queued.is_final for queued in batch)
        if not self._events:
            self._catching_up = False

