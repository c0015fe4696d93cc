"""What one session did, as reported when it ends: its outcome and its counters.

Kept below the session runtime (``connector/nursery/``) and beside :mod:`connector.observe`, so
that the observer interface, metrics and the server can all speak of a session's report without
importing the runtime that produces it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from .protocol import SessionMachine

__all__ = ["Outcome", "SessionReport", "TranscriptionStats"]


@dataclass
class TranscriptionStats:
    finals: int = 0
    partials: int = 0
    audio_dropped_seconds: float = 0.0
    engine_errors: int = 0


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
    sender: Any = None
    machine: SessionMachine | None = None
