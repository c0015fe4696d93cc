"""When frames are due: absolute deadlines from one anchor, so jitter never accumulates."""

from __future__ import annotations

import math
from dataclasses import dataclass

from connector.vocabulary import SAMPLE_RATE

__all__ = ["FrameClock", "next_frame_end"]


@dataclass
class FrameClock:
    """Send deadlines for frames, from one anchor so that jitter never accumulates.

    The frame that ends at stream sample ``p`` is due when its last sample would have been
    captured on a live call: ``anchor_time + (p - anchor_pos) / (SAMPLE_RATE x speed)``. A pause
    re-anchors at the resume; a discard moves the anchor by the skipped samples so the cadence
    continues unchanged. ``speed == 0`` means no pacing at all.
    """

    speed: float
    anchor_time: float = 0.0
    anchor_pos: int = 0

    def deadline(self, end_pos: int) -> float:
        if self.speed == 0:
            return -math.inf
        return self.anchor_time + (end_pos - self.anchor_pos) / (SAMPLE_RATE * self.speed)

    def restart(self, now: float, pos: int) -> None:
        self.anchor_time = now
        self.anchor_pos = pos

    def skip(self, samples: int) -> None:
        self.anchor_pos += samples


def next_frame_end(pos: int, frame_samples: int, end: int, next_injection: int | None) -> int:
    """End sample of the next frame: a full frame, cut short at the end or at an injection point."""
    stop = min(pos + frame_samples, end)
    if next_injection is not None and pos < next_injection < stop:
        stop = next_injection
    return stop
