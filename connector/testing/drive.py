"""Driving a recognizer like a session does, and checking that no thread outlives a test (engine tests, contract)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import trio

from connector.asr.base import AudioChunk, EngineFactory, Flush, Hypothesis, Recognizer, RecognizerInput


@dataclass
class Run:
    results: list[Hypothesis] = field(default_factory=list)

    @property
    def finals(self) -> list[Hypothesis]:
        return [h for h in self.results if h.is_final]

    @property
    def partials(self) -> list[Hypothesis]:
        return [h for h in self.results if not h.is_final]

    def final_words(self) -> list[tuple[str, float, float]]:
        return [(w.value, round(w.start, 4), round(w.duration, 4)) for h in self.finals for w in h.words]


async def drive(
    recognizer: Recognizer,
    items: Iterable[npt.NDArray[np.int16] | Flush],
    *,
    deadline: float = 20,
) -> Run:
    """Feed ``items`` (PCM chunks or Flush), close the input, collect everything until it returns."""
    run = Run()
    audio_tx, audio_rx = trio.open_memory_channel[RecognizerInput](0)
    results_tx, results_rx = trio.open_memory_channel[Hypothesis](10_000)

    async def feed() -> None:
        async with audio_tx:
            for item in items:
                await audio_tx.send(item if isinstance(item, Flush) else AudioChunk(item))

    async def recognize() -> None:
        async with results_tx:
            await recognizer.run(audio_rx, results_tx)

    try:
        with trio.fail_after(deadline):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(feed)
                nursery.start_soon(recognize)
                async for hypothesis in results_rx:
                    run.results.append(hypothesis)
    except BaseExceptionGroup as group:  # let tests see the recognizer's own exception
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    return run


def busy_threads(baseline: set[threading.Thread]) -> list[threading.Thread]:
    """Threads started since ``baseline``, minus fake servers and trio's idle cached workers."""
    return [
        t
        for t in threading.enumerate()
        if t not in baseline and t.is_alive() and not t.name.startswith(("fake-", "Trio thread"))
    ]


def assert_threads_settle(baseline: set[threading.Thread], timeout: float = 5.0) -> None:
    """Every thread we caused must end; join (not sleep) up to ``timeout`` for those finishing."""
    for thread in busy_threads(baseline):
        thread.join(timeout)
    left = busy_threads(baseline)
    assert not left, f"threads left behind: {[t.name for t in left]}"


@asynccontextmanager
async def started_engines(
    create: Callable[[dict[str, str]], EngineFactory],
) -> AsyncIterator[Callable[[dict[str, str]], Awaitable[EngineFactory]]]:
    """``make(env)`` creates and starts an engine; every one made is closed on exit."""
    engines: list[EngineFactory] = []

    async def make(env: dict[str, str]) -> EngineFactory:
        engine = create(env)
        await engine.start()
        engines.append(engine)
        return engine

    try:
        yield make
    finally:
        for engine in engines:
            await engine.aclose()
