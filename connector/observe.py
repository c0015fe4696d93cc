"""What the runtime reports as it works: one small interface, with a no-op default.

The session, sender and server call these hooks; :mod:`connector.metrics` implements them
with Prometheus. Keeping the hooks here (and not Prometheus calls all over) means the core
has no metrics dependency and tests can record what happened with a plain object.

Hooks must be cheap and must never raise: they run on the event loop's hot paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .report import SessionReport

__all__ = ["NullObserver", "Observer"]


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
