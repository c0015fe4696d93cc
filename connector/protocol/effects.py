"""The session machine's effects: what the runtime must do, or know, after each input.

Messages to send are not effects: the machine queues them in its outbox
(:mod:`connector.protocol.outbox`). The effects are the runtime's share: start, flush or stop the
recognizers, audio to feed and count, a gap, lifecycle points (``open`` handled, ``close``
received, a ``disconnect`` to be answered) and a 429 back-off, which needs the runtime's clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .call import CallSettings

__all__ = [
    "Audio",
    "AwaitClose",
    "Backoff",
    "Closing",
    "Discarded",
    "Effect",
    "FlushTranscription",
    "Opened",
    "StartTranscription",
    "StopTranscription",
]


@dataclass(frozen=True, slots=True)
class StartTranscription:
    settings: CallSettings


@dataclass(frozen=True, slots=True)
class FlushTranscription:
    """Make what was heard so far final, keep the recognizers (``paused``)."""


@dataclass(frozen=True, slots=True)
class StopTranscription:
    """End the current recognizers' input; their finals follow. ``then_closed``: once no
    recognizer of the session is running any more (this one, and any stopped before it), report
    :meth:`~connector.protocol.SessionMachine.transcription_stopped`, and ``closed`` follows."""

    then_closed: bool


@dataclass(frozen=True, slots=True)
class Audio:
    """Audio was received and counted: ``seconds`` of it; ``channels`` (one int16 array per
    negotiated channel, starting at ``stream_sample``) when it is to be transcribed, else empty."""

    seconds: float
    channels: Sequence[npt.NDArray[np.int16]] = ()
    stream_sample: int = 0


@dataclass(frozen=True, slots=True)
class Discarded:
    """The client reported a gap of ``seconds`` (``paused``/``discarded``); the timeline skips it."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Opened:
    """``open`` was handled (served or refused): the open deadline no longer applies."""


@dataclass(frozen=True, slots=True)
class Closing:
    """``close`` was received: only finals and ``closed`` are still to go."""


@dataclass(frozen=True, slots=True)
class AwaitClose:
    """``disconnect`` was queued: the client must now ``close`` within the close deadline."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """The client sent 429: pause events (not control messages) for ``seconds``."""

    seconds: float


Effect = (
    StartTranscription
    | FlushTranscription
    | StopTranscription
    | Audio
    | Discarded
    | Backoff
    | Opened
    | Closing
    | AwaitClose
)
