"""Garbage-collector settings for a long-running event loop.

Profiling the protocol path under load (docs/performance.md) showed CPython's automatic full
collections pausing the event loop for 100-370 ms with hundreds of live calls: every call
keeps a few hundred tracked objects, and a full pass traverses them all while no pong, no
``opened`` and no audio is handled. So: freeze what start-up created (models, modules) out of
the collector's sight, collect the young generations less often, and run full collections on
a fixed schedule instead of whenever allocation counts say so.
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable

import trio

__all__ = ["full_collections", "tune_gc"]

GEN0_THRESHOLD = 10_000
FULL_COLLECTION_EVERY = 60.0


def tune_gc() -> None:
    """Call once after start-up work (model loading) and before serving."""
    gc.collect()
    gc.freeze()
    # Generation 2 effectively never triggers on its own; :func:`full_collections` does it.
    gc.set_threshold(GEN0_THRESHOLD, 10, 1_000_000)


def full_collections(every: float = FULL_COLLECTION_EVERY) -> Callable[[], Awaitable[None]]:
    """A background task running a full collection every ``every`` seconds."""

    async def collect() -> None:
        while True:
            await trio.sleep(every)
            gc.collect()

    return collect
