"""The simulator's pure arithmetic: frame deadlines, frame ends, configuration checks.
"""

from __future__ import annotations

from typing import Any

import pytest

from connector.simulator import (
    CallConfig,
)
from connector.simulator.pacing import FrameClock, next_frame_end
from connector.vocabulary import SAMPLE_RATE

# ---------------------------------------------------------------------------------------------
# pure arithmetic


def test_frame_clock_deadlines_are_absolute() -> None:
    clock = FrameClock(speed=1.0)
    clock.restart(10.0, 0)
    assert [clock.deadline(p) for p in (800, 1600, SAMPLE_RATE)] == pytest.approx([10.1, 10.2, 11.0])
    clock.skip(4000)  # a 0.5 s discard keeps the cadence: the frame after it is due on time
    assert clock.deadline(4000 + 1600) == pytest.approx(10.2)
    clock.restart(20.0, SAMPLE_RATE)  # resumed at t=20 with position 1 s
    assert clock.deadline(8800) == pytest.approx(20.1)
    fast = FrameClock(speed=4.0)
    assert fast.deadline(SAMPLE_RATE) == pytest.approx(0.25)
    assert FrameClock(speed=0.0).deadline(10**9) == float("-inf")


def test_next_frame_end_stops_at_the_end_and_at_injections() -> None:
    assert next_frame_end(0, 800, 10_000, None) == 800
    assert next_frame_end(9600, 800, 10_000, None) == 10_000
    assert next_frame_end(800, 800, 10_000, 1000) == 1000
    assert next_frame_end(800, 800, 10_000, 800) == 1600  # due now: handled before the frame
    assert next_frame_end(800, 800, 10_000, 5000) == 1600


def test_config_rejects_bad_values() -> None:
    cases: list[dict[str, Any]] = [{"frame_ms": 10}, {"frame_ms": 250}, {"speed": -1}, {"open_timeout": 0}]
    for bad in cases:
        with pytest.raises(ValueError):
            CallConfig(url="ws://127.0.0.1:1/x", **bad)
    with pytest.raises(ValueError, match="ws://"):
        CallConfig(url="http://127.0.0.1/x")
