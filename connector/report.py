"""What one session did, as reported when it ends: its outcome and its counters.

Kept below the session runtime (``connector/nursery/``) and :mod:`connector.observe`, so that
the observer interface, metrics and the server can all speak of a session's report without
importing the runtime that produces it. The counters are filled by
:class:`connector.observe.SessionTally` from the same observer calls that feed ``/metrics``:
one count, two views.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .protocol import SessionMachine
from .translate.ordering import TranslationCounters

__all__ = ["Outcome", "SenderCounts", "SessionReport", "TranscriptionStats"]


@dataclass
class TranscriptionStats:
    finals: int = 0
    """Final transcripts written to the client (entities)."""
    partials: int = 0
    audio_dropped_seconds: float = 0.0
    engine_errors: int = 0
    engine_restarts: int = 0


@dataclass
class SenderCounts:
    messages_sent: int = 0
    events_sent: int = 0
    partials_superseded: int = 0
    partials_dropped: int = 0
    batched_events: int = 0
    queue_depth: int = 0
    max_queue_depth: int = 0
    bucket_delay_seconds: float = 0.0
    backoff_delay_seconds: float = 0.0


class Outcome(enum.Enum):
    """How a session ended (one per session, for logs and metrics)."""

    COMPLETED = "completed"
    PROBE = "probe"
    DISCONNECTED = "disconnected"
    UNAUTHORIZED = "unauthorized"
    ERROR = "error"
    VANISHED = "vanished"


@dataclass
class SessionReport:
    outcome: Outcome = Outcome.ERROR
    disconnect_reason: str | None = None
    transcription: TranscriptionStats = field(default_factory=TranscriptionStats)
    sender: SenderCounts = field(default_factory=SenderCounts)
    translation: TranslationCounters = field(default_factory=TranslationCounters)
    machine: SessionMachine | None = None
    """The protocol machine, whose ``counters`` hold the audio received, discarded and ignored."""
