"""The stream timeline: one clock per session, and per-recognizer maps onto it.

The protocol's clock is the client's ``position``: samples per channel / ``SAMPLE_RATE``, plus the time
the client reports as discarded (``discarded`` messages and ``resumed.discarded``). We count the
same way and re-sync from ``position`` on every text message, because a client may report a
discard without skipping audio (or skip without reporting).

Engines report times relative to the audio *they were fed*. A :class:`TimelineMap` records,
for one recognizer stream, at which fed-sample index each contiguous stretch of stream
timeline begins, so a relative time maps back to an absolute stream position even across
pauses, discards, re-syncs and audio dropped under backpressure.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from ..vocabulary import SAMPLE_RATE

__all__ = ["StreamClock", "TimelineMap"]


@dataclass
class StreamClock:
    """Stream position of the session in samples (8 kHz), kept as an integer to avoid drift."""

    samples: int = 0
    discarded_seconds: float = 0.0
    resyncs: int = 0

    @property
    def position(self) -> float:
        return self.samples / SAMPLE_RATE

    def advance(self, samples_per_channel: int) -> None:
        self.samples += samples_per_channel

    def discard(self, start: float, seconds: float) -> None:
        """A gap of ``seconds`` starting at ``start`` (from ``discarded``/``resumed``).

        The position after the gap is ``start + seconds``. A client whose message ``position``
        already includes the gap (the usual case, applied by :meth:`resync` first) is not
        counted twice.
        """
        self.discarded_seconds += seconds
        self.samples = max(self.samples, round((start + seconds) * SAMPLE_RATE))

    def resync(self, position: float, tolerance: float = 0.02) -> bool:
        """Adopt the client's ``position`` if it differs by more than ``tolerance`` seconds.

        Returns ``True`` when the clock moved. A small tolerance avoids churning on the
        millisecond rounding of the client's Duration formatting.
        """
        if abs(position - self.position) <= tolerance:
            return False
        self.samples = round(position * SAMPLE_RATE)
        self.resyncs += 1
        return True


@dataclass
class TimelineMap:
    """Fed-sample index → stream position, for one recognizer stream."""

    _fed_starts: list[int] = field(default_factory=list)
    _positions: list[int] = field(default_factory=list)
    fed: int = 0

    def feed(self, stream_sample: int, count: int) -> None:
        """Record that ``count`` samples starting at stream sample ``stream_sample`` were fed."""
        if count <= 0:
            return
        if not self._fed_starts or self._expected_stream_sample() != stream_sample:
            self._fed_starts.append(self.fed)
            self._positions.append(stream_sample)
        self.fed += count

    def _expected_stream_sample(self) -> int:
        return self._positions[-1] + (self.fed - self._fed_starts[-1])

    def to_stream(self, relative_seconds: float) -> float:
        """Map seconds-since-first-fed-sample to an absolute stream position in seconds."""
        if not self._fed_starts:
            return max(0.0, relative_seconds)
        fed_sample = relative_seconds * SAMPLE_RATE
        i = bisect.bisect_right(self._fed_starts, fed_sample) - 1
        i = max(i, 0)
        return (self._positions[i] + (fed_sample - self._fed_starts[i])) / SAMPLE_RATE
