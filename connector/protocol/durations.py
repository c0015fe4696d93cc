"""AudioHook Durations: ISO-8601 seconds only (``PT1.25S``).

The protocol accepts no minutes, no hours, no negative values and no exponents, so a float is
always formatted fixed-point. ``repr(1e-05)`` would break the client's validator.
"""

from __future__ import annotations

import re

__all__ = ["DurationError", "format_duration", "parse_duration"]

_DURATION = re.compile(r"^PT(\d*\.)?\d+S$")


class DurationError(ValueError):
    """A string is not a protocol Duration."""


def parse_duration(value: object) -> float:
    """Parse ``PT<seconds>S`` into seconds."""
    if not isinstance(value, str) or not _DURATION.match(value):
        raise DurationError(f"not a Duration: {value!r}")
    return float(value[2:-1])


def format_duration(seconds: float) -> str:
    """Format seconds as a Duration with millisecond precision (never an exponent).

    Negative inputs (rounding noise at the start of the stream) are clamped to zero.
    """
    if seconds != seconds:  # NaN
        raise DurationError("NaN is not a Duration")
    millis = max(0, round(seconds * 1000))
    whole, frac = divmod(millis, 1000)
    if frac == 0:
        return f"PT{whole}S"
    return f"PT{whole}.{frac:03d}".rstrip("0") + "S"
