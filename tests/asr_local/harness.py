"""Driving a recognizer the way a session does: feed items, collect hypotheses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import trio

from connector.asr.base import AudioChunk, Hypothesis, Recognizer, RecognizerInput

FRAME = 160  # 20 ms at 8 kHz, as AudioHook sends


def frames(pcm: npt.NDArray[np.int16], size: int = FRAME) -> list[RecognizerInput]:
    return [AudioChunk(pcm[i : i + size]) for i in range(0, pcm.shape[0], size)]


@dataclass
class Run:
    """A recognizer running in a nursery, with its input and output channels."""

    audio: trio.MemorySendChannel[RecognizerInput]
    results: trio.MemoryReceiveChannel[Hypothesis]
    done: trio.Event = field(default_factory=trio.Event)

    async def feed(self, items: Iterable[RecognizerInput]) -> None:
        for item in items:
            await self.audio.send(item)

    async def next(self, seconds: float = 20.0) -> Hypothesis:
        with trio.fail_after(seconds):
            return await self.results.receive()

    async def rest(self, seconds: float = 60.0) -> list[Hypothesis]:
        """Close the input and collect everything until the recognizer returns."""
        await self.audio.aclose()
        out: list[Hypothesis] = []
        with trio.fail_after(seconds):
            async for hyp in self.results:
                out.append(hyp)
            await self.done.wait()
        return out


async def start(nursery: trio.Nursery, recognizer: Recognizer) -> Run:
    audio_tx, audio_rx = trio.open_memory_channel[RecognizerInput](10_000)
    results_tx, results_rx = trio.open_memory_channel[Hypothesis](1_000)
    run = Run(audio_tx, results_rx)

    async def body() -> None:
        async with results_tx:
            await recognizer.run(audio_rx, results_tx)
        run.done.set()

    nursery.start_soon(body)
    return run


async def transcribe(recognizer: Recognizer, pcm: npt.NDArray[np.int16]) -> list[Hypothesis]:
    """Feed all of ``pcm`` in 20 ms frames, close the input, return every hypothesis."""
    async with trio.open_nursery() as nursery:
        run = await start(nursery, recognizer)
        await run.feed(frames(pcm))
        return await run.rest()
