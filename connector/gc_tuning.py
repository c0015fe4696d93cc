"""Garbage-collector settings for a long-running event loop.

Profiling the protocol path under load showed CPython's automatic full collections pausing the
event loop long enough, with hundreds of live calls, to make pongs and ``opened`` late (the
measurements are in docs/performance.md, "Garbage collection"): every call keeps hundreds of
tracked objects, and a full pass traverses them all while no pong, no ``opened`` and no audio
is handled. So: freeze what start-up created (models, modules) out of the collector's sight,
and run full collections on a fixed schedule instead of whenever allocation counts say so.

Young collections are off in practice too (a threshold of a million net allocations, kept
only as a safety net against a burst of cyclic garbage). Under load the young generation
holds every task's *current* await chain (coroutines, cells, trio's wait objects, re-created
on every wake-up), so a gen-0 pass traverses all of them whatever its threshold, while
CPython's count (allocations minus frees) barely moves under steady streaming. Almost
everything per frame is freed by reference counting; the few cycles wait for the scheduled
full collection.
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable

import trio

__all__ = ["full_collections", "tune_gc"]

GEN0_THRESHOLD = 1_000_000
FULL_COLLECTION_EVERY = 300.0
"""Default of ``CONNECTOR_GC_INTERVAL``. Steady streaming leaves no cyclic garbage and ended
calls only a little, while each full pass stops the loop for a time that grows with the live
calls; collecting once a minute put such a pause, and the catching up after it, into every
minute (measured with ``bench/server.py``'s ``/debug/gc``: docs/performance.md, "Garbage collection")."""


def tune_gc() -> None:
    """Call once after start-up work (model loading) and before serving."""
    gc.collect()
    gc.freeze()
    # Neither young nor full collections trigger on their own in steady streaming;
    # :func:`full_collections` does the work on a schedule.
    gc.set_threshold(GEN0_THRESHOLD, 10, 1_000_000)


def full_collections(every: float = FULL_COLLECTION_EVERY) -> Callable[[], Awaitable[None]]:
    """A background task running a full collection every ``every`` seconds."""

    async def collect() -> None:
        while True:
            await trio.sleep(every)
            gc.collect()

    return collect
