"""What the runtime reports as it works: one small interface, with a no-op default.

The session, sender and server call these hooks; :mod:`connector.metrics` implements them
with Prometheus. Keeping the hooks here (and not Prometheus calls all over) means the core
has no metrics dependency and tests can record what happened with a plain object.

Hooks must be cheap and must never raise: they run on the event loop's hot paths.
"""

from __future__ import annotations

from typing import Protocol

from .report import SessionReport

__all__ = ["NullObserver", "Observer", "SessionTally"]


class Observer(Protocol):
    def session_started(self) -> None: ...

    def session_ended(self, report: SessionReport) -> None: ...

    def upgrade_refused(self, status: int, reason: str) -> None: ...

    def opened_sent(self, seconds: float) -> None:
        """From receiving ``open`` to writing ``opened``."""

    def transcript_sent(self, engine: str, is_final: bool, seconds: float | None) -> None:
        """A transcript left; ``seconds`` from receiving its last audio (``None`` if unknown)."""

    def message_sent(self, message_type: str) -> None: ...

    def sender_delayed(self, cause: str, seconds: float) -> None:
        """Events held back by the token bucket (``cause="rate"``) or a 429 (``"backoff"``)."""

    def sender_queue_depth(self, depth: int) -> None: ...

    def backpressure(self, what: str, amount: float) -> None:
        """Something superseded, dropped or delayed under load (``partial_superseded``,
        ``partial_dropped``, ``audio_dropped_seconds``, ``events_batched``)."""

    def engine_error(self, engine: str) -> None: ...

    def engine_restart(self, engine: str) -> None: ...

    def audio_received(self, seconds: float) -> None: ...

    def audio_discarded(self, seconds: float) -> None: ...

    def translation(self, outcome: str) -> None:
        """One item through a call's translator (``translated``, ``timeouts``, ``fallbacks``...,
        :data:`connector.translate.ordering.TRANSLATION_OUTCOMES`)."""

    def store_written(self, rows: int, seconds: float) -> None:
        """The transcript store wrote a batch of ``rows`` in ``seconds``."""

    def store_failed(self) -> None:
        """A store write failed (it is retried)."""

    def store_dropped(self, rows: int) -> None:
        """Records the store's spool could not keep (sent to Genesys, not stored)."""

    def store_backlog(self, rows: int) -> None:
        """Records waiting to be written now."""

    def webhook_delivered(self, seconds_since_created: float, attempts: int) -> None:
        """A webhook delivery was accepted (2xx), ``seconds_since_created`` after it was queued."""

    def webhook_attempt_failed(self, reason: str) -> None:
        """An attempt failed and will be retried (``timeout``, ``network``, ``throttled``, ``server_error``...)."""

    def webhook_dead(self, reason: str) -> None:
        """A delivery was dead-lettered (``max_age``, ``unknown_subscription``)."""

    def webhook_backlog(self, count: int) -> None:
        """Deliveries pending now (sampled)."""


class NullObserver:
    """Observes nothing (the default when metrics are off)."""

    def session_started(self) -> None:
        pass

    def session_ended(self, report: SessionReport) -> None:
        pass

    def upgrade_refused(self, status: int, reason: str) -> None:
        pass

    def opened_sent(self, seconds: float) -> None:
        pass

    def transcript_sent(self, engine: str, is_final: bool, seconds: float | None) -> None:
        pass

    def message_sent(self, message_type: str) -> None:
        pass

    def sender_delayed(self, cause: str, seconds: float) -> None:
        pass

    def sender_queue_depth(self, depth: int) -> None:
        pass

    def backpressure(self, what: str, amount: float) -> None:
        pass

    def engine_error(self, engine: str) -> None:
        pass

    def engine_restart(self, engine: str) -> None:
        pass

    def audio_received(self, seconds: float) -> None:
        pass

    def audio_discarded(self, seconds: float) -> None:
        pass

    def translation(self, outcome: str) -> None:
        pass

    def store_written(self, rows: int, seconds: float) -> None:
        pass

    def store_failed(self) -> None:
        pass

    def store_dropped(self, rows: int) -> None:
        pass

    def store_backlog(self, rows: int) -> None:
        pass

    def webhook_delivered(self, seconds_since_created: float, attempts: int) -> None:
        pass

    def webhook_attempt_failed(self, reason: str) -> None:
        pass

    def webhook_dead(self, reason: str) -> None:
        pass

    def webhook_backlog(self, count: int) -> None:
        pass


class SessionTally:
    """One session's observer: counts into the session's :class:`~connector.report.SessionReport`
    and passes every call on to the server's observer.

    So the session's log line and ``/metrics`` count the very same calls (there is no second
    set of counters to drift); a test can read the report after a session for what it did.
    """

    def __init__(self, report: SessionReport, observer: Observer | None = None) -> None:
        self.report = report
        self.observer: Observer = observer if observer is not None else NullObserver()

    def session_started(self) -> None:
        self.observer.session_started()

    def session_ended(self, report: SessionReport) -> None:
        self.observer.session_ended(report)

    def upgrade_refused(self, status: int, reason: str) -> None:
        self.observer.upgrade_refused(status, reason)

    def opened_sent(self, seconds: float) -> None:
        self.observer.opened_sent(seconds)

    def transcript_sent(self, engine: str, is_final: bool, seconds: float | None) -> None:
        if is_final:
            self.report.transcription.finals += 1
        else:
            self.report.transcription.partials += 1
        self.observer.transcript_sent(engine, is_final, seconds)

    def message_sent(self, message_type: str) -> None:
        self.report.sender.messages_sent += 1
        if message_type == "event":
            self.report.sender.events_sent += 1
        self.observer.message_sent(message_type)

    def sender_delayed(self, cause: str, seconds: float) -> None:
        if cause == "backoff":
            self.report.sender.backoff_delay_seconds += seconds
        else:
            self.report.sender.bucket_delay_seconds += seconds
        self.observer.sender_delayed(cause, seconds)

    def sender_queue_depth(self, depth: int) -> None:
        sender = self.report.sender
        sender.queue_depth += depth
        sender.max_queue_depth = max(sender.max_queue_depth, sender.queue_depth)
        self.observer.sender_queue_depth(depth)

    def backpressure(self, what: str, amount: float) -> None:
        if what == "partial_superseded":
            self.report.sender.partials_superseded += int(amount)
        elif what == "partial_dropped":
            self.report.sender.partials_dropped += int(amount)
        elif what == "events_batched":
            self.report.sender.batched_events += 1
        elif what == "audio_dropped_seconds":
            self.report.transcription.audio_dropped_seconds += amount
        self.observer.backpressure(what, amount)

    def engine_error(self, engine: str) -> None:
        self.report.transcription.engine_errors += 1
        self.observer.engine_error(engine)

    def engine_restart(self, engine: str) -> None:
        self.report.transcription.engine_restarts += 1
        self.observer.engine_restart(engine)

    def audio_received(self, seconds: float) -> None:
        self.observer.audio_received(seconds)  # the machine's counters hold the session's total

    def audio_discarded(self, seconds: float) -> None:
        self.observer.audio_discarded(seconds)

    def translation(self, outcome: str) -> None:
        self.report.translation.translation(outcome)
        self.observer.translation(outcome)

    def store_written(self, rows: int, seconds: float) -> None:
        self.observer.store_written(rows, seconds)

    def store_failed(self) -> None:
        self.observer.store_failed()

    def store_dropped(self, rows: int) -> None:
        self.observer.store_dropped(rows)

    def store_backlog(self, rows: int) -> None:
        self.observer.store_backlog(rows)

    def webhook_delivered(self, seconds_since_created: float, attempts: int) -> None:
        self.observer.webhook_delivered(seconds_since_created, attempts)

    def webhook_attempt_failed(self, reason: str) -> None:
        self.observer.webhook_attempt_failed(reason)

    def webhook_dead(self, reason: str) -> None:
        self.observer.webhook_dead(reason)

    def webhook_backlog(self, count: int) -> None:
        self.observer.webhook_backlog(count)
