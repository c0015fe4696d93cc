"""The engine contract (:mod:`connector.asr.base`) as reusable checks: run them against your engine.

Each check creates fresh recognizers from a *started* engine, feeds ``speech`` (8 kHz int16 audio
holding a few spoken words; :func:`connector.testing.speech.synthesize` makes some) in 20 ms
frames, and raises :class:`AssertionError` saying which rule was broken:

* input closed → finals for everything heard, then ``run`` returns (:func:`check_end_of_input`);
* :class:`Flush` → what was heard becomes a final now, with the input still open (:func:`check_flush`);
* partials carry the number of the final that supersedes them (:func:`check_partials_share_final_number`);
* cancellation leaves no worker thread behind (:func:`check_cancellation_leaves_no_thread`).

:func:`check_engine` runs them all, e.g. in a trio test (pytest-trio)::

    async def test_my_engine_keeps_the_contract() -> None:
        engine = create_engine(os.environ)
        await engine.start()
        try:
            await check_engine(engine, synthesize("please check my account balance"))
        finally:
            await engine.aclose()
"""

from __future__ import annotations

import math
import threading

import numpy as np
import trio

from connector.asr.base import AudioChunk, EngineFactory, Flush, Hypothesis, RecognizerInput, RecognizerSpec
from connector.testing.drive import Run, assert_threads_settle, drive
from connector.vocabulary import SAMPLE_RATE, Pcm

__all__ = [
    "check_cancellation_leaves_no_thread",
    "check_end_of_input",
    "check_engine",
    "check_flush",
    "check_partials_share_final_number",
]

FRAME = SAMPLE_RATE // 50  # 20 ms, as AudioHook sends


def _frames(pcm: Pcm) -> list[Pcm]:
    return [pcm[i : i + FRAME] for i in range(0, pcm.shape[0], FRAME)]


def _recognizer_spec(language: str) -> RecognizerSpec:
    return RecognizerSpec(channel=0, language=language, partials=True)


async def check_end_of_input(
    engine: EngineFactory, speech: Pcm, *, language: str = "en-US", deadline: float = 60
) -> Run:
    """Speech then end of input: ``run`` returns within ``deadline``, the last result is a final."""
    recognizer = engine.create(_recognizer_spec(language), trio.CapacityLimiter(2))
    run = await drive(recognizer, _frames(speech), deadline=deadline)
    assert run.finals, "input closed after speech, but no final came before run() returned"
    assert run.results[-1].is_final, "a partial came after the last final: it was never finalised"
    return run


def check_partials_share_final_number(run: Run) -> None:
    """Every partial's ``utterance`` is that of a later final; no two finals share a number."""
    numbers = [h.utterance for h in run.finals]
    assert len(numbers) == len(set(numbers)), f"two finals share an utterance number: {numbers}"
    for index, hypothesis in enumerate(run.results):
        if hypothesis.is_final:
            continue
        later = [h.utterance for h in run.results[index + 1 :] if h.is_final]
        assert later and later[0] == hypothesis.utterance, (
            f"partial {hypothesis.text!r} (utterance {hypothesis.utterance}) is not superseded by a final "
            f"of the same number (next final: {later[:1]})"
        )


async def check_flush(engine: EngineFactory, speech: Pcm, *, language: str = "en-US", deadline: float = 60) -> None:
    """Speech then :class:`Flush`, input still open: a final arrives within ``deadline``."""
    recognizer = engine.create(_recognizer_spec(language), trio.CapacityLimiter(2))
    audio_tx, audio_rx = trio.open_memory_channel[RecognizerInput](math.inf)
    results_tx, results_rx = trio.open_memory_channel[Hypothesis](10_000)

    async def recognize() -> None:
        async with results_tx:
            await recognizer.run(audio_rx, results_tx)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(recognize)
        for frame in _frames(speech):
            await audio_tx.send(AudioChunk(frame))
        await audio_tx.send(Flush())
        with trio.move_on_after(deadline) as waited:
            async for hypothesis in results_rx:
                if hypothesis.is_final:
                    break
        assert not waited.cancelled_caught, f"no final within {deadline} s of a Flush (input still open)"
        await audio_tx.aclose()  # the recognizer must still end cleanly afterwards
        with trio.fail_after(deadline):
            async for _ in results_rx:
                pass


async def check_cancellation_leaves_no_thread(
    engine: EngineFactory, speech: Pcm, *, language: str = "en-US", after: float = 0.5, settle: float = 10
) -> None:
    """Cancel a recognizer ``after`` seconds of feeding: no borrowed limiter token, no new thread left."""
    baseline = set(threading.enumerate())
    limiter = trio.CapacityLimiter(2)
    recognizer = engine.create(_recognizer_spec(language), limiter)
    audio_tx, audio_rx = trio.open_memory_channel[RecognizerInput](math.inf)
    results_tx, results_rx = trio.open_memory_channel[Hypothesis](10_000)
    endless = np.concatenate([speech] * 20)

    async def recognize() -> None:
        async with results_tx:
            await recognizer.run(audio_rx, results_tx)

    async def drain() -> None:
        async for _ in results_rx:
            pass

    async with trio.open_nursery() as nursery:
        nursery.start_soon(recognize)
        nursery.start_soon(drain)
        for frame in _frames(endless):
            await audio_tx.send(AudioChunk(frame))
        await trio.sleep(after)
        nursery.cancel_scope.cancel()
    assert limiter.borrowed_tokens == 0, "a worker thread still holds the limiter after cancellation"
    assert_threads_settle(baseline, timeout=settle)


async def check_engine(engine: EngineFactory, speech: Pcm, *, language: str = "en-US", deadline: float = 60) -> None:
    """Every check above against a started ``engine``."""
    run = await check_end_of_input(engine, speech, language=language, deadline=deadline)
    check_partials_share_final_number(run)
    await check_flush(engine, speech, language=language, deadline=deadline)
    await check_cancellation_leaves_no_thread(engine, speech, language=language)
