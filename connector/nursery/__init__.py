"""Session orchestration on trio: one nursery per AudioHook session."""

from .limits import SessionLimits
from .sender import Sender, SenderStats
from .session import Outcome, SessionReport, Shutdown, WebSocket, run_session
from .token_bucket import TokenBucket
from .transcription import ChannelRun, Generation, TranscriptionStats

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
