"""The stream timeline: one clock per session, and per-recognizer maps onto it.

The protocol's clock is the client's ``position``: samples per channel / ``SAMPLE_RATE``, plus the time
the client reports as discarded (``discarded`` messages and ``resumed.discarded``). We count the
same way and re-sync from ``position`` on every text message, because a client may report a
discard without skipping audio (or skip without reporting).

Engines report times relative to the audio *they were fed*. A :class:`TimelineMap` records,
for one recognizer stream, at which fed-sample index each contiguous stretch of stream
timeline begins, so a relative time maps back to an absolute stream position even across
pauses, discards, re-syncs and audio dropped under backpressure.

A map gains one entry per gap, for as long as the call lasts, so it is pruned two ways:

* **By the caller** (:meth:`TimelineMap.forget_before`): "nothing before fed sample N will be asked
  again". The session says so after each final (what is before the final, less a margin, is done).
  The map keeps the stretch that contains N, so every time from N on maps exactly as before.
* **By a cap** (``max_entries``, 4096 by default, 64 KiB): a recognizer that never finalises while
  gaps keep coming (audio dropped for minutes with no speech) cannot grow it further; the oldest
  half is collapsed. A time that falls in a collapsed stretch then maps as if the audio had run on
  without a gap into the oldest stretch kept: late by the gaps collapsed in between. Recent
  times (the last ``max_entries / 2`` gaps) stay exact.
"""

from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass, field

from ..vocabulary import SAMPLE_RATE

__all__ = ["MAX_TIMELINE_ENTRIES", "StreamClock", "TimelineMap"]

MAX_TIMELINE_ENTRIES = 4096
"""Stretches a :class:`TimelineMap` keeps at most (16 bytes each)."""


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

    max_entries: int = MAX_TIMELINE_ENTRIES
    _fed_starts: array[int] = field(default_factory=lambda: array("q"))
    _positions: array[int] = field(default_factory=lambda: array("q"))
    fed: int = 0
    forgotten: int = 0
    """Entries dropped so far (by :meth:`forget_before` or the cap)."""

    def __len__(self) -> int:
        """Stretches kept (one per gap since the oldest kept, plus one)."""
        return len(self._fed_starts)

    def feed(self, stream_sample: int, count: int) -> None:
        """Record that ``count`` samples starting at stream sample ``stream_sample`` were fed."""
        if count <= 0:
            return
        if not self._fed_starts or self._expected_stream_sample() != stream_sample:
            if len(self._fed_starts) >= self.max_entries:
                self._drop_oldest(len(self._fed_starts) // 2)
            self._fed_starts.append(self.fed)
            self._positions.append(stream_sample)
        self.fed += count

    def _expected_stream_sample(self) -> int:
        return self._positions[-1] + (self.fed - self._fed_starts[-1])

    def forget_before(self, fed_sample: float) -> None:
        """Nothing before fed sample ``fed_sample`` will be asked again: drop the stretches that end
        at or before it (the one containing it stays, so later times map exactly as before)."""
        i = bisect.bisect_right(self._fed_starts, fed_sample) - 1
        if i > 0:
            self._drop_oldest(i)

    def _drop_oldest(self, n: int) -> None:
        del self._fed_starts[:n]
        del self._positions[:n]
        self.forgotten += n

    def to_stream(self, relative_seconds: float) -> float:
        """Map seconds-since-first-fed-sample to an absolute stream position in seconds.

        A time before the oldest stretch kept (forgotten) maps as if contiguous with that stretch.
        """
        if not self._fed_starts:
            return max(0.0, relative_seconds)
        fed_sample = relative_seconds * SAMPLE_RATE
        i = bisect.bisect_right(self._fed_starts, fed_sample) - 1
        i = max(i, 0)
        return (self._positions[i] + (fed_sample - self._fed_starts[i])) / SAMPLE_RATE
