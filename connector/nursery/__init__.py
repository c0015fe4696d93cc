"""Session orchestration on trio: one nursery per AudioHook session."""

from ..limits import SessionLimits
from ..report import Outcome, SessionReport, TranscriptionStats
from .sender import Sender, SenderStats
from .session import Shutdown, WebSocket, run_session
from .token_bucket import TokenBucket
from .transcription import ChannelRun, Generation

__all__ = [
    "ChannelRun",
    "Generation",
    "Outcome",
    "Sender",
    "SenderStats",
    "SessionLimits",
    "SessionReport",
    "Shutdown",
    "TokenBucket",
    "TranscriptionStats",
    "WebSocket",
    "run_session",
]
