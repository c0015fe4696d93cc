"""What the Google recognizer's single loop reacts to, and what it knows about each stream.

Audio, gRPC responses, stream ends and timers all arrive as events on one channel, so the
recognizer's state lives in one task (see :mod:`.recognizer`); the event types and the
per-stream record are here, apart from the rules that act on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.cloud.speech_v2 import StreamingRecognizeResponse

from ..base import AudioChunk, Flush
from .results import StreamWindow
from .stream import GrpcStream

__all__ = ["DrainExpired", "Ended", "Eof", "LoopEvent", "Reopen", "Response", "Stream"]


@dataclass(eq=False)
class Stream:
    """One gRPC stream of the chain: where its audio sits on the timeline, and how it is doing."""

    grpc: GrpcStream
    window: StreamWindow
    prev_end: float
    sent: int = 0
    audio_end: int | None = None  # fed sample where its audio stops, once closed
    closing: bool = False
    cancelled: bool = False  # by us, after the drain timeout
    failed: bool = False  # waiting for its replacement
    emitted: bool = False
    pending: list[Response | Ended] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Response:
    """A response a stream's worker thread received."""

    stream: Stream
    response: StreamingRecognizeResponse


@dataclass(frozen=True, slots=True)
class Ended:
    """A stream's call returned: cleanly (``error`` None) or with a gRPC error."""

    stream: Stream
    error: grpc.RpcError | None


@dataclass(frozen=True, slots=True)
class DrainExpired:
    """A closed stream's ``drain_timeout`` has passed."""

    stream: Stream


@dataclass(frozen=True, slots=True)
class Reopen:
    """A failed stream's backoff has passed: time for its replacement."""

    stream: Stream


class Eof:
    """The recognizer's input is closed."""


LoopEvent = AudioChunk | Flush | Eof | Response | Ended | DrainExpired | Reopen
