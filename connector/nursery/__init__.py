"""Session orchestration on trio: one nursery per AudioHook session."""

from ..limits import SessionLimits
from ..report import Outcome, SessionReport, TranscriptionStats
from .sender import Sender
from .session import Shutdown, WebSocket, run_session
from .transcription import ChannelRun, Generation

__all__ = [
    "ChannelRun",
    "Generation",
    "Outcome",
    "Sender",
    "SessionLimits",
    "SessionReport",
    "Shutdown",
    "TranscriptionStats",
    "WebSocket",
    "run_session",
]
