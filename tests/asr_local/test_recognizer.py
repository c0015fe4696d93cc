"""The embedded engine on real speech (espeak-ng → 8 kHz µ-law), tiny.en, via the public interface.

WER bound: these sentences are ones tiny.en transcribes almost perfectly from espeak at 8 kHz
(measured WER 0.00 each on 2025-11 builds of the packages); the same model on a broader espeak
corpus measures ~0.27–0.31 (bench/engine_local.py), because espeak's robotic voice is far from
Whisper's training data. A broken pipeline (wrong sample rate, features, prompt or timing)
scores near 1.0, so 0.2 — a couple of substitutions across the clip — separates the two while
tolerating small drift between package versions.
"""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest
import trio
import trio.testing

from connector.asr.base import Flush, Hypothesis, RecognizerSpec
from connector.asr.local import LocalEngine
from connector.testing.speech import normalize_words, silence, synthesize, tone, ulaw_roundtrip, word_error_rate
from connector.vocabulary import SAMPLE_RATE

from .harness import frames, start, transcribe

WER_BOUND = 0.2
OFFSET_TOLERANCE = 0.3  # seconds, per the engine requirements
SENTENCES = [
    "please call me back tomorrow morning",
    "i would like to cancel my order",
    "what time does the store open",
    "i want to speak to a manager",
]


def spec(channel: int = 0) -> RecognizerSpec:
    return RecognizerSpec(channel=channel, language="en-US")


def finals(hyps: list[Hypothesis]) -> list[Hypothesis]:
    return [h for h in hyps if h.is_final]


def joined(hyps: list[Hypothesis]) -> str:
    return " ".join(h.text for h in finals(hyps))


async def test_transcript_matches_the_words_spoken(local_engine: LocalEngine) -> None:
    parts = [silence(0.5)]
    for sentence in SENTENCES:
        parts += [synthesize(sentence), silence(1.2)]
    hyps = await transcribe(local_engine.create(spec(), trio.CapacityLimiter(2)), ulaw_roundtrip(np.concatenate(parts)))
    reference = " ".join(SENTENCES)
    assert word_error_rate(reference, joined(hyps)) <= WER_BOUND, joined(hyps)
    # One final per sentence, numbered 0, 1, 2 … in order, each inside [0, 1] confidence.
    numbers = [h.utterance for h in finals(hyps)]
    assert numbers == list(range(len(SENTENCES)))
    for h in finals(hyps):
        assert 0.0 <= h.confidence <= 1.0
        assert h.language == "en-US"
        assert h.words and all(0.0 <= w.confidence <= 1.0 for w in h.words)
        assert " ".join(w.value for w in h.words) == h.text


async def test_word_offsets_are_where_the_speech_is(local_engine: LocalEngine) -> None:
    # Words synthesised one by one with short gaps, so each word's true span is known exactly;
    # the phrase sits 2 s into the stream, after an earlier utterance, to check absolute times.
    truth: list[tuple[str, float]] = []
    parts = [silence(0.4), synthesize("good morning"), silence(1.5)]
    pos = sum(p.shape[0] for p in parts)
    for word in ["please", "send", "the", "invoice", "to", "my", "office", "today"]:
        pcm = synthesize(word)
        truth.append((word, pos / SAMPLE_RATE))
        parts += [pcm, silence(0.08)]
        pos += pcm.shape[0] + 640
    parts.append(silence(1.0))
    hyps = await transcribe(local_engine.create(spec(), trio.CapacityLimiter(2)), ulaw_roundtrip(np.concatenate(parts)))
    words = [w for h in finals(hyps)[1:] for w in h.words]
    recognised = [(normalize_words(w.value), w.start) for w in words]
    errors = []
    cursor = 0
    for value, true_start in truth:
        for i in range(cursor, len(recognised)):
            if recognised[i][0] == [value]:
                errors.append(abs(recognised[i][1] - true_start))
                cursor = i + 1
                break
    assert len(errors) >= 0.75 * len(truth), [w.value for w in words]
    assert max(errors) <= OFFSET_TOLERANCE, errors
    first = finals(hyps)[1]
    assert abs(first.start - truth[0][1]) <= OFFSET_TOLERANCE
    assert first.duration > 0


async def test_partials_precede_their_final_with_the_same_number(local_engine: LocalEngine) -> None:
    speech = synthesize("i have been waiting for over an hour and nobody has called me back")
    async with trio.open_nursery() as nursery:
        run = await start(nursery, local_engine.create(spec(), trio.CapacityLimiter(2)))
        await run.feed(frames(np.concatenate([silence(0.3), speech[: SAMPLE_RATE * 2]])))
        first = await run.next()  # nothing else is fed: the partial for the first 2 s
        assert not first.is_final and first.text
        await run.feed(frames(np.concatenate([speech[SAMPLE_RATE * 2 :], silence(1.0)])))
        hyps = [first, *await run.rest()]
    final_index = next(i for i, h in enumerate(hyps) if h.is_final)
    assert all(not h.is_final for h in hyps[:final_index])
    assert {h.utterance for h in hyps[: final_index + 1]} == {hyps[final_index].utterance}
    assert all(h.utterance != hyps[final_index].utterance for h in hyps[final_index + 1 :])
    assert word_error_rate("i have been waiting for over an hour", first.text) < 1.0
    assert 0.0 <= first.confidence <= 1.0 and first.words == ()


async def test_silence_and_a_tone_produce_no_text(local_engine: LocalEngine) -> None:
    rng = np.random.default_rng(7)
    hiss = (rng.standard_normal(SAMPLE_RATE * 2) * 60).astype(np.int16)
    audio = np.concatenate([silence(2.0), tone(1000, 3.0), silence(0.5), hiss, tone(1000, 1.0, level=0.8)])
    async with trio.open_nursery() as nursery:
        run = await start(nursery, local_engine.create(spec(), trio.CapacityLimiter(2)))
        await run.feed(frames(ulaw_roundtrip(audio)))
        await run.feed([Flush()])
        hyps = await run.rest()
    assert hyps == []


async def test_flush_finalises_immediately_and_listening_goes_on(local_engine: LocalEngine) -> None:
    no_partials = local_engine.derive(partial_interval=0.0)
    async with trio.open_nursery() as nursery:
        run = await start(nursery, no_partials.create(spec(), trio.CapacityLimiter(2)))
        # Speech with no trailing silence: the VAD alone would not end this utterance yet.
        await run.feed(frames(np.concatenate([silence(0.3), synthesize("i would like to cancel my order")])))
        await trio.testing.wait_all_tasks_blocked()
        assert run.results.statistics().current_buffer_used == 0
        await run.feed([Flush()])
        final = await run.next(seconds=10)  # input still open: the Flush alone produced it
        assert final.is_final and final.utterance == 0
        assert word_error_rate("i would like to cancel my order", final.text) <= WER_BOUND
        await run.feed(frames(np.concatenate([silence(0.5), synthesize("thank you very much for your help")])))
        rest = await run.rest()
    assert [h.utterance for h in finals(rest)] == [1]
    assert word_error_rate("thank you very much for your help", joined(rest)) <= WER_BOUND


async def test_closing_the_input_yields_the_final(local_engine: LocalEngine) -> None:
    pcm = np.concatenate([silence(0.3), synthesize("what time does the store open")])  # ends mid-speech
    hyps = await transcribe(local_engine.create(spec(), trio.CapacityLimiter(2)), pcm)
    assert len(finals(hyps)) == 1
    assert word_error_rate("what time does the store open", joined(hyps)) <= WER_BOUND


async def test_a_repeated_utterance_is_not_dropped(local_engine: LocalEngine) -> None:
    yes = synthesize("yes")
    audio = np.concatenate([silence(0.5), yes, silence(1.0), yes, silence(1.0)])
    hyps = await transcribe(local_engine.create(spec(), trio.CapacityLimiter(2)), ulaw_roundtrip(audio))
    got = finals(hyps)
    assert len(got) == 2 and all(h.text for h in got)
    assert got[0].utterance != got[1].utterance
    assert got[1].start > got[0].start + 0.8


async def test_two_recognizers_run_independently(local_engine: LocalEngine) -> None:
    limiter = trio.CapacityLimiter(2)
    texts = ["please call me back tomorrow morning", "i want to speak to a manager"]
    results: dict[int, list[Hypothesis]] = {}

    async def one(channel: int) -> None:
        pcm = np.concatenate([silence(0.2 + channel), synthesize(texts[channel]), silence(1.0)])
        results[channel] = await transcribe(local_engine.create(spec(channel), limiter), pcm)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(one, 0)
        nursery.start_soon(one, 1)
    for channel, text in enumerate(texts):
        assert [h.utterance for h in finals(results[channel])] == [0]
        assert word_error_rate(text, joined(results[channel])) <= WER_BOUND


async def test_partials_yield_when_the_limiter_is_busy(local_engine: LocalEngine) -> None:
    limiter = trio.CapacityLimiter(1)
    await limiter.acquire()  # the machine is "loaded": no free token
    async with trio.open_nursery() as nursery:
        run = await start(nursery, local_engine.create(spec(), limiter))
        await run.feed(frames(np.concatenate([silence(0.3), synthesize("i need to change the address on my account")])))
        await run.feed([Flush()])
        await trio.testing.wait_all_tasks_blocked()
        # Partials were due every second but skipped; the final queues for the token instead.
        assert limiter.statistics().tasks_waiting == 1
        assert run.results.statistics().current_buffer_used == 0
        limiter.release()
        hyps = await run.rest()
    assert [h.is_final for h in hyps] == [True]
    assert word_error_rate("i need to change the address on my account", hyps[0].text) <= 0.35


async def test_long_speech_is_cut_before_the_window_overflows(local_engine: LocalEngine) -> None:
    engine = local_engine.derive(max_utterance=3.0, partial_interval=0.0)
    speech = np.concatenate([synthesize(s) for s in SENTENCES])  # ~8 s, no pause long enough to end
    hyps = await transcribe(engine.create(spec(), trio.CapacityLimiter(2)), speech)
    got = finals(hyps)
    assert len(got) >= 3
    assert all(h.duration <= 3.0 + 0.35 for h in got)
    assert word_error_rate(" ".join(SENTENCES), joined(hyps)) <= 0.5


def _busy_threads() -> list[str]:
    """Threads doing something: all but trio's idle cached workers (named 'Trio thread N')."""
    return [t.name for t in threading.enumerate() if not re.fullmatch(r"Trio thread \d+", t.name)]


async def test_cancellation_mid_inference_leaves_no_thread(local_engine: LocalEngine) -> None:
    # Trio keeps idle worker threads for 10 s; warm its cache first so the baseline holds them.
    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(trio.to_thread.run_sync, time.sleep, 0.05)
    baseline, baseline_busy = threading.active_count(), sorted(_busy_threads())
    limiter = trio.CapacityLimiter(2)
    speech = np.concatenate([synthesize(s) for s in SENTENCES[:3]])
    with trio.move_on_after(30) as guard:
        async with trio.open_nursery() as nursery:
            run = await start(nursery, local_engine.create(spec(), limiter))
            await run.feed(frames(speech))
            await run.feed([Flush()])
            await trio.testing.wait_all_tasks_blocked()
            assert limiter.borrowed_tokens >= 1  # a decode is running in a worker thread now
            cancelled_at = time.perf_counter()
            nursery.cancel_scope.cancel()
    assert not guard.cancelled_caught
    assert time.perf_counter() - cancelled_at < 2.0
    assert limiter.borrowed_tokens == 0
    assert threading.active_count() <= baseline
    assert sorted(_busy_threads()) == baseline_busy


@pytest.mark.parametrize("language", ["es-ES", "fr-FR"])
async def test_an_english_only_model_refuses_other_languages(local_engine: LocalEngine, language: str) -> None:
    from connector.asr.base import EngineConfigError

    with pytest.raises(EngineConfigError, match="not supported"):
        local_engine.create(RecognizerSpec(channel=0, language=language), trio.CapacityLimiter(1))


async def test_partials_are_not_computed_for_calls_that_do_not_send_them(local_engine: LocalEngine) -> None:
    speech = np.concatenate([silence(0.3), synthesize("i have been waiting for over an hour")])
    off = RecognizerSpec(channel=0, language="en-US", partials=False)
    limiter = trio.CapacityLimiter(2)
    async with trio.open_nursery() as nursery:
        run = await start(nursery, local_engine.create(off, limiter))
        await run.feed(frames(speech))
        await trio.testing.wait_all_tasks_blocked()
        # With partials on, a partial would be decoding now or already sent (2 s of speech).
        assert limiter.borrowed_tokens == 0
        assert run.results.statistics().current_buffer_used == 0
        hyps = await run.rest()
    assert [h.is_final for h in hyps] == [True]
