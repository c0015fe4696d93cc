"""The default engine (``base``, default settings) on recordings of real human speech.

espeak's voice hides the failures real speech shows: rumble that blinds the VAD, people
repeating themselves (which an old repetition guard took for decoding loops and deleted),
pauses between sentences that decide whether turns merge. The set (``tests/realspeech/``, 7
channels, 465 scored words) is decoded as fast as the CPU goes; the bounds sit a margin above
what the defaults measure (docs/engine-local.md: WER 14.0 %, 11 deletions, 3 merged turns,
IVR channel 1.3 %) and far below what the failures above produced (24 % WER, 61 deletions).
"""

from __future__ import annotations

import numpy as np
import pytest
import trio

from connector.asr.base import Hypothesis, RecognizerSpec
from connector.asr.local import LocalEngine
from connector.testing.realspeech import Channel, load_set
from connector.testing.speech import WordErrors, word_errors

from .harness import transcribe

pytestmark = pytest.mark.slow

SLACK = 0.3  # seconds around an utterance within which a final still belongs to it


async def finals_of(engine: LocalEngine, channel: Channel) -> list[Hypothesis]:
    recognizer = engine.create(RecognizerSpec(channel=0, language="en-US", partials=False), trio.CapacityLimiter(2))
    return [h for h in await transcribe(recognizer, channel.pcm) if h.is_final and h.text.strip()]


def overlaps(h: Hypothesis, start: float, end: float) -> bool:
    return h.start < end + SLACK and h.start + h.duration > start - SLACK


@pytest.fixture(scope="module")
def decoded(base_engine: LocalEngine) -> list[tuple[Channel, list[Hypothesis]]]:
    async def all_channels() -> list[tuple[Channel, list[Hypothesis]]]:
        return [(channel, await finals_of(base_engine, channel)) for channel in load_set()]

    return trio.run(all_channels)


def test_words_come_through_and_none_are_eaten(decoded: list[tuple[Channel, list[Hypothesis]]]) -> None:
    total = WordErrors(0, 0, 0, 0)
    for channel, finals in decoded:
        errors = word_errors(" ".join(u.text for u in channel.utterances), " ".join(h.text for h in finals))
        total = WordErrors(*(a + b for a, b in zip(
            (total.substitutions, total.deletions, total.insertions, total.reference_words),
            (errors.substitutions, errors.deletions, errors.insertions, errors.reference_words), strict=True)))
        if channel.id == "asterisk-allison":  # clean read prompts: the accuracy a clear caller gets
            assert errors.rate <= 0.05, (errors, [h.text for h in finals])
    assert total.reference_words >= 450
    assert total.deletions <= 15, total
    assert total.rate <= 0.20, total


def test_every_utterance_gets_a_final_and_every_final_has_speech(
    decoded: list[tuple[Channel, list[Hypothesis]]],
) -> None:
    merged = 0
    for channel, finals in decoded:
        for u in channel.utterances:
            assert any(overlaps(h, u.start, u.end) for h in finals), (channel.id, u.text)
        for h in finals:
            covering = sum(overlaps(h, u.start, u.end) for u in channel.utterances)
            assert covering >= 1, (channel.id, h.text, h.start)  # nothing where nobody spoke
            merged += covering > 1
    assert merged <= 4


def test_words_start_where_the_utterances_start(decoded: list[tuple[Channel, list[Hypothesis]]]) -> None:
    errors = [
        min(abs(w.start - u.start) for h in finals for w in h.words)
        for channel, finals in decoded
        for u in channel.utterances
    ]
    assert float(np.percentile(errors, 50)) <= 0.06 and float(np.percentile(errors, 90)) <= 0.15, errors
