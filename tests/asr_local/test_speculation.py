"""Speculative finals (tiny.en, espeak speech): decoded during the pause, used only when the
speaker really stopped, abandoned when speech resumes, and never changing what is said.

Audio goes in 20 ms frames, one item at a time, so the recognizer sees the pause grow window by
window exactly as in a call; which decode becomes the final is then decided by the audio, not
by how fast this machine decodes (the decoder task takes speculations and finals in order).
"""

from __future__ import annotations

import numpy as np
import trio

from connector.asr.base import RecognizerSpec
from connector.asr.local import LocalEngine
from connector.asr.local.recognizer import LocalRecognizer
from connector.testing.speech import normalize_words, silence, synthesize, ulaw_roundtrip, word_error_rate

from .harness import frames, start

FIRST = "please call me back tomorrow morning"
SECOND = "i would like to cancel my order"


def recognizer(engine: LocalEngine, **changes: float) -> LocalRecognizer:
    created = engine.derive(**changes).create(RecognizerSpec(channel=0, language="en-US", partials=False),
                                             trio.CapacityLimiter(2))
    assert isinstance(created, LocalRecognizer)
    return created


async def run(rec: LocalRecognizer, pcm: np.ndarray) -> list[str]:
    async with trio.open_nursery() as nursery:
        session = await start(nursery, rec)
        await session.feed(frames(ulaw_roundtrip(pcm)))
        return [h.text for h in await session.rest() if h.is_final]


async def test_a_final_after_a_real_pause_is_the_speculative_decode(local_engine: LocalEngine) -> None:
    rec = recognizer(local_engine, end_silence=0.4, speculate_after=0.1)
    texts = await run(rec, np.concatenate([silence(0.5), synthesize(FIRST), silence(1.0), synthesize(SECOND),
                                           silence(1.0)]))
    assert len(texts) == 2, texts
    assert word_error_rate(FIRST, texts[0]) <= 0.2 and word_error_rate(SECOND, texts[1]) <= 0.2, texts
    assert rec.speculations.used == 2, rec.speculations
    assert rec.speculations.started == rec.speculations.used + rec.speculations.abandoned


async def test_speech_after_a_short_pause_abandons_the_speculation(local_engine: LocalEngine) -> None:
    # 0.25 s of quiet: long enough to speculate (0.1 s), too short to end the utterance (0.6 s).
    rec = recognizer(local_engine, end_silence=0.6, speculate_after=0.1)
    texts = await run(rec, np.concatenate([silence(0.5), synthesize(FIRST), silence(0.25), synthesize(SECOND),
                                           silence(1.0)]))
    assert len(texts) == 1, texts
    assert word_error_rate(f"{FIRST} {SECOND}", texts[0]) <= 0.2, texts
    stats = rec.speculations
    assert stats.abandoned >= 1 and stats.used == 1, stats
    assert stats.started == stats.used + stats.abandoned


async def test_without_speculation_the_words_are_the_same(local_engine: LocalEngine) -> None:
    audio = np.concatenate([silence(0.5), synthesize(FIRST), silence(1.0)])
    speculative = recognizer(local_engine, speculate_after=0.1)
    plain = recognizer(local_engine, speculate_after=0.0)
    # The speculation decodes 0.1 s of quiet less than the final would: the same words (Whisper
    # may punctuate the end differently).
    ahead, after = await run(speculative, audio), await run(plain, audio)
    assert [normalize_words(t) for t in ahead] == [normalize_words(t) for t in after], (ahead, after)
    assert speculative.speculations.used == 1 and plain.speculations.started == 0
