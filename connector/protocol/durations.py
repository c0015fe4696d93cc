"""AudioHook Durations: ISO-8601 seconds only (``PT1.25S``).

The protocol accepts no minutes, no hours, no negative values and no exponents, so a float is
always formatted fixed-point. ``repr(1e-05)`` would break the client's validator.

A Duration is at most :data:`MAX_SECONDS` (136 years): far beyond any call, and small enough that
the stream clock's sample count (seconds x 8000) stays exact and finite. ``PT`` followed by 400
nines is infinite as a float, and turning it into samples raised ``OverflowError``.
"""

from __future__ import annotations

import math
import re

__all__ = ["MAX_SECONDS", "DurationError", "format_duration", "parse_duration"]

MAX_SECONDS = float(2**32)
"""The longest Duration parsed or formatted, in seconds."""

_DURATION = re.compile(r"PT(?:[0-9]*\.)?[0-9]+S")  # ASCII digits only, and used with fullmatch: "$" would let
# a trailing newline through (float() then raised ValueError), "\d" any script's digits


class DurationError(ValueError):
    """A string is not a protocol Duration."""


def parse_duration(value: object) -> float:
    """Parse ``PT<seconds>S`` into seconds."""
    if not isinstance(value, str) or not _DURATION.fullmatch(value):
        raise DurationError(f"not a Duration: {value!r}"[:80])
    seconds = float(value[2:-1])
    if seconds > MAX_SECONDS:
        raise DurationError(f"Duration over {MAX_SECONDS:.0f} seconds")
    return seconds


def format_duration(seconds: float) -> str:
    """Format seconds as a Duration with millisecond precision (never an exponent).

    Negative inputs (rounding noise at the start of the stream) are clamped to zero; NaN, the
    infinities and anything over :data:`MAX_SECONDS` are not Durations.
    """
    if math.isnan(seconds) or math.isinf(seconds) or seconds > MAX_SECONDS:
        raise DurationError(f"not a Duration: {seconds!r} seconds")
    millis = round(max(0.0, seconds) * 1000)
    whole, frac = divmod(millis, 1000)
    if frac == 0:
        return f"PT{whole}S"
    return f"PT{whole}.{frac:03d}".rstrip("0") + "S"
