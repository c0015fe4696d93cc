"""Event-loop lag: how late a task wakes from a fixed sleep.

Everything in a session shares one trio thread, so the one number that says whether the
server keeps up is how long a ready task waits for the loop. A task that asks to sleep
``interval`` seconds and wakes ``interval + lag`` later measures exactly that: the lag
includes timer resolution, time in the run queue behind other tasks, and any synchronous
work (JSON, numpy, logging) that held the loop. Pong latency and ``opened`` latency are
bounded below by it, so it is the first thing to watch on a busy server.

This is a periodic probe by nature (it must wake whether or not anything else happens), not
polling for a condition; it costs one wake-up per ``interval``.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

__all__ = ["watch_loop_lag"]


async def watch_loop_lag(interval: float, record: Callable[[float], None]) -> None:
    """Record the wake-up lag (seconds, >= 0) of a ``interval``-second sleep, forever."""
    if interval <= 0:
        raise ValueError("interval must be > 0")
    while True:
        deadline = trio.current_time() + interval
        await trio.sleep_until(deadline)
        record(max(0.0, trio.current_time() - deadline))
