"""The decoder task's work items: finals, speculative finals, and the flag that cancels a decode.

The intake queues these and the decoder task runs them in order (see :mod:`.recognizer`); they
live apart so the scheduling rules can be read without the task code around them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ...audio.endpointer import Segment
from .decoder import DecodeResult

__all__ = ["Final", "Flag", "Job", "Speculation", "SpeculationStats"]


@dataclass(slots=True)
class Speculation:
    """A final decoded ahead of its endpoint; valid while no speech follows ``voiced_end``."""

    segment: Segment
    length: int  # samples of the segment decoded
    voiced_end: int  # the segment's last voiced sample when it was queued
    abandoned: threading.Event = field(default_factory=threading.Event)
    result: DecodeResult | None = None
    decoded: bool = False

    def matches(self, segment: Segment) -> bool:
        return segment is self.segment and segment.last_voiced_end == self.voiced_end


@dataclass(slots=True)
class SpeculationStats:
    """How a channel's speculative finals fared (read by tests and benchmarks)."""

    started: int = 0  # queued when the utterance went quiet
    used: int = 0  # became the final: decoded before the endpoint was confirmed
    abandoned: int = 0  # speech resumed (or the utterance was dropped): the decode was wasted


class Flag:
    """A decode's cancel flag: set when the recognizer is cancelled or its work abandoned."""

    __slots__ = ("_own", "_recognizer")

    def __init__(self, recognizer: threading.Event, own: threading.Event | None = None) -> None:
        self._recognizer = recognizer
        self._own = own

    def is_set(self) -> bool:
        return self._recognizer.is_set() or (self._own is not None and self._own.is_set())


@dataclass(frozen=True, slots=True)
class Final:
    """An ended utterance, with the speculation that covered all of its speech, if any."""

    segment: Segment
    speculation: Speculation | None


Job = Final | Speculation
