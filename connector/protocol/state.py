"""Where a session is in the protocol, and what it has counted of the client's input."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["SessionCounters", "State"]


class State(enum.Enum):
    AWAITING_OPEN = "awaiting-open"
    ACTIVE = "active"
    PAUSED = "paused"
    CLOSING = "closing"
    CLOSED = "closed"


@dataclass
class SessionCounters:
    """Totals of the client's input; the runtime learns each increment from the machine's effects."""

    audio_frames: int = 0
    audio_seconds: float = 0.0
    discarded_seconds: float = 0.0
    ignored_audio_frames: int = 0
    unknown_messages: int = 0
    client_errors: int = 0
