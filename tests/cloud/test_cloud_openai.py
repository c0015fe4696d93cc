"""OpenAI engine through the official ``openai`` SDK (AsyncOpenAI on trio) against a local HTTP fake."""

from __future__ import annotations

import math
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
import pytest
import trio

from connector.asr.base import AudioChunk, EngineConfigError, EngineError, Flush, RecognizerSpec
from connector.asr.languages import NATIVE_PROMPTS, google_language_code, normalize_tag, openai_language
from connector.asr.openai import create_engine
from connector.asr.openai.config import OpenAISettings
from connector.asr.openai.segmenter import EndpointSegmenter
from connector.asr.registry import load_engine
from connector.testing.drive import assert_threads_settle, drive, started_engines
from connector.vocabulary import SAMPLE_RATE
from tests.cloud.fake_openai import FakeOpenAI
from tests.cloud.synthetic import SpokenWord, chunks, render, word_sequence


@pytest.fixture
def baseline() -> Iterator[set[threading.Thread]]:
    before = set(threading.enumerate())
    yield before
    assert_threads_settle(before)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    http = server.start()
    yield server
    http.stop()


def env_for(fake: FakeOpenAI, **extra: str) -> dict[str, str]:
    env = {
        "OPENAI_API_KEY": fake.api_key,
        "OPENAI_BASE_URL": fake.http.url + "/v1",
        "OPENAI_STT_VAD": "energy",
        "OPENAI_STT_MIN_SPEECH_S": "0.1",
        "OPENAI_STT_RETRY_BASE_S": "0.01",
        "OPENAI_STT_RETRY_MAX_S": "0.05",
        "OPENAI_STT_TIMEOUT_S": "5",
    }
    env.update(extra)
    return env


@pytest.fixture
async def make_engine(baseline: set[threading.Thread]) -> AsyncIterator[Any]:
    async with started_engines(create_engine) as make:
        yield make


def spec(language: str = "en-US", **options: Any) -> RecognizerSpec:
    return RecognizerSpec(channel=0, language=language, options=options)


async def test_whisper_gives_real_word_times_relative_to_fed_audio(fake: FakeOpenAI, make_engine: Any) -> None:
    engine = await make_engine(env_for(fake))
    assert load_engine("openai", env_for(fake)).name == "openai"
    words = word_sequence(8)
    run = await drive(engine.create(spec(model="whisper-1"), trio.CapacityLimiter(2)), chunks(render(words, 5.0)))

    assert run.final_words() == [(w.name, round(w.start, 4), round(w.duration, 4)) for w in words]
    assert [h.utterance for h in run.finals] == [0, 1] and not run.partials
    assert all(h.timing == "engine" for h in run.finals)
    assert run.finals[0].confidence == pytest.approx(math.exp(-0.105))
    upload = fake.uploads[0]
    assert (upload.rate, upload.channels, upload.width) == (SAMPLE_RATE, 1, 2)
    assert upload.filename.endswith(".wav") and upload.content_type == "audio/wav"
    assert upload.fields["model"] == ["whisper-1"] and upload.fields["language"] == ["en"]
    assert upload.fields["response_format"] == ["verbose_json"]
    assert sorted(upload.fields["timestamp_granularities[]"]) == ["segment", "word"]


async def test_gpt4o_spreads_words_and_takes_confidence_from_logprobs(fake: FakeOpenAI, make_engine: Any) -> None:
    engine = await make_engine(env_for(fake))
    words = word_sequence(4)
    run = await drive(engine.create(spec(), trio.CapacityLimiter(2)), chunks(render(words, 2.5)))

    (final,) = run.finals
    assert final.text == "w1000 w1010 w1020 w1030"
    assert final.timing == "spread"
    assert [w.value for w in final.words] == ["w1000", "w1010", "w1020", "w1030"]
    # Spread over the voiced span the VAD found (32 ms windows), not over pre-roll and trailing silence.
    assert final.start == pytest.approx(words[0].start, abs=0.033)
    assert final.start + final.duration == pytest.approx(words[-1].start + words[-1].duration, abs=0.033)
    starts = [w.start for w in final.words]
    assert starts == sorted(starts)
    assert final.words[0].confidence == pytest.approx(math.exp(-0.15))
    assert final.words[1].confidence == pytest.approx(math.exp(-0.05))
    assert final.confidence == pytest.approx(math.exp(-0.6 / 8))
    upload = fake.uploads[0]
    assert upload.fields["model"] == ["gpt-4o-mini-transcribe"]
    assert upload.fields["include[]"] == ["logprobs"] and upload.fields["response_format"] == ["json"]


async def test_concurrent_requests_are_emitted_in_utterance_order(fake: FakeOpenAI, make_engine: Any) -> None:
    fake.gate_word, fake.gate_until = "w1000", "w1080"  # the first answer waits for the third
    engine = await make_engine(env_for(fake))
    words = word_sequence(12)
    run = await drive(engine.create(spec(), trio.CapacityLimiter(2)), chunks(render(words, words[-1].start + 1)))
    assert [h.text.split()[0] for h in run.finals] == ["w1000", "w1040", "w1080"]
    assert [h.utterance for h in run.finals] == [0, 1, 2]
    assert fake.answered[-1] == "w1000"  # answered last, emitted first
    assert fake.max_in_flight >= 2


async def test_concurrency_per_session_is_bounded(fake: FakeOpenAI, make_engine: Any) -> None:
    fake.gate_word, fake.gate_until = "w1000", "w1120"  # held while the three others go through
    engine = await make_engine(env_for(fake, OPENAI_STT_MAX_CONCURRENCY="2"))
    words = word_sequence(16)
    run = await drive(engine.create(spec(), trio.CapacityLimiter(2)), chunks(render(words, words[-1].start + 1)))
    assert len(run.finals) == 4
    assert fake.max_in_flight == 2


async def test_429_and_5xx_are_retried(fake: FakeOpenAI, make_engine: Any) -> None:
    fake.errors = [(429, {"retry-after": "0"}), (503, {}), (500, {})]
    engine = await make_engine(env_for(fake))
    words = word_sequence(8)
    run = await drive(engine.create(spec(model="whisper-1"), trio.CapacityLimiter(2)), chunks(render(words, 5.0)))
    assert run.final_words() == [(w.name, round(w.start, 4), round(w.duration, 4)) for w in words]
    assert len(fake.uploads) == 5
    assert engine._transcriber.retries == 3


async def test_bad_request_is_not_retried(fake: FakeOpenAI, make_engine: Any) -> None:
    fake.errors = [(400, {})]
    engine = await make_engine(env_for(fake))
    with pytest.raises(EngineError, match=r"HTTP 400"):
        await drive(engine.create(spec(), trio.CapacityLimiter(2)), chunks(render(word_sequence(4), 2.5)))
    assert len(fake.uploads) == 1


async def test_hung_backend_times_out_and_raises(fake: FakeOpenAI, make_engine: Any) -> None:
    fake.hang = True
    engine = await make_engine(env_for(fake, OPENAI_STT_TIMEOUT_S="0.3", OPENAI_STT_MAX_RETRIES="1"))
    start = trio.current_time()
    with pytest.raises(EngineError, match=r"after 2 attempts; last: no answer within 0.3 s"):
        await drive(engine.create(spec(), trio.CapacityLimiter(2)), chunks(render(word_sequence(4), 2.5)), deadline=5)
    assert 0.6 <= trio.current_time() - start < 3
    assert len(fake.uploads) == 2


async def test_flush_cuts_the_utterance_now(fake: FakeOpenAI, make_engine: Any) -> None:
    engine = await make_engine(env_for(fake))
    first = [SpokenWord(1500, 0.2), SpokenWord(1510, 0.5)]
    second = [SpokenWord(1520, 1.2), SpokenWord(1530, 1.5)]
    pcm = render(first + second, 2.4)
    items: list[Any] = [*chunks(pcm[:6400]), Flush(), *chunks(pcm[6400:])]
    run = await drive(engine.create(spec(model="whisper-1"), trio.CapacityLimiter(2)), items)
    assert [h.text for h in run.finals] == ["w1500 w1510", "w1520 w1530"]


async def test_language_without_api_code_uses_native_prompt(fake: FakeOpenAI, make_engine: Any) -> None:
    engine = await make_engine(env_for(fake))
    engine.check("zu-ZA", {})
    recognizer = engine.create(spec("zu-ZA", prompt="Genesys"), trio.CapacityLimiter(2))
    await drive(recognizer, chunks(render(word_sequence(2), 1.5)))
    upload = fake.uploads[0]
    assert "language" not in upload.fields
    assert upload.fields["prompt"] == [f"{NATIVE_PROMPTS['zu']} Genesys"]


async def test_cancellation_mid_request_leaves_nothing(
    fake: FakeOpenAI, make_engine: Any, baseline: set[threading.Thread]
) -> None:
    fake.hang = True
    arrived = trio.Event()
    token = trio.lowlevel.current_trio_token()
    fake.on_upload = lambda: trio.from_thread.run_sync(arrived.set, trio_token=token)
    engine = await make_engine(env_for(fake))
    recognizer = engine.create(spec(), trio.CapacityLimiter(2))
    audio_tx, audio_rx = trio.open_memory_channel[Any](0)
    results_tx, _ = trio.open_memory_channel[Any](10)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(recognizer.run, audio_rx, results_tx)
            for chunk in chunks(render(word_sequence(4), 2.5)):
                await audio_tx.send(AudioChunk(chunk))
            await audio_tx.aclose()
            await arrived.wait()  # the request is on the wire
            nursery.cancel_scope.cancel()
    await engine.aclose()
    assert_threads_settle(baseline)


async def test_check_reports_what_to_fix(fake: FakeOpenAI, make_engine: Any) -> None:
    engine = await make_engine(env_for(fake))
    engine.check("en-US", {"model": "whisper-1", "prompt": "names: Genesys"})
    with pytest.raises(EngineConfigError, match=r"customConfig\.model='chirp_2'.*gpt-4o-mini-transcribe"):
        engine.check("en-US", {"model": "chirp_2"})
    with pytest.raises(EngineConfigError, match="cannot be transcribed"):
        engine.check("xx-YY", {})
    with pytest.raises(EngineConfigError, match=r"customConfig\.prompt"):
        engine.check("en-US", {"prompt": 42})

    wrong = await make_engine(env_for(fake, OPENAI_API_KEY="sk-wrong"))
    with pytest.raises(EngineConfigError, match="rejected OPENAI_API_KEY"):
        wrong.check("en-US", {})
    missing = await make_engine({"OPENAI_BASE_URL": fake.http.url + "/v1"})
    with pytest.raises(EngineConfigError, match="OPENAI_API_KEY"):
        missing.check("en-US", {})
    with pytest.raises(EngineConfigError, match="OPENAI_STT_MODEL"):
        create_engine({"OPENAI_STT_MODEL": "nope"})


def test_language_mapping() -> None:
    assert openai_language("en-US") is not None and openai_language("en-US").iso == "en"  # type: ignore[union-attr]
    assert openai_language("cmn-CN").iso == "zh"  # type: ignore[union-attr]
    assert openai_language("fil-PH").iso == "tl"  # type: ignore[union-attr]
    assert openai_language("nb-NO").iso == "no"  # type: ignore[union-attr]
    zulu = openai_language("zu-ZA")
    assert zulu is not None and zulu.iso is None and zulu.prompt == NATIVE_PROMPTS["zu"]
    assert openai_language("xx-YY") is None
    assert google_language_code("cmn-CN") == "cmn-Hans-CN"
    assert google_language_code("en-us") == "en-US"
    assert normalize_tag("ZH-hant-tw") == "zh-Hant-TW"


def test_silero_segmenter_finds_real_speech(speech_ready: None) -> None:
    from connector.testing.speech import silence, synthesize

    speech = synthesize("hello, this is a test of the voice activity detector")
    pcm = np.concatenate([silence(1.0), speech, silence(1.5)])
    segmenter = EndpointSegmenter(OpenAISettings(vad="silero"))
    found = [u for chunk in chunks(pcm) for u in segmenter.feed(chunk)] + segmenter.cut()
    assert len(found) == 1
    (utterance,) = found
    assert utterance.speech_start / SAMPLE_RATE == pytest.approx(1.0, abs=0.3)
    assert utterance.speech_end / SAMPLE_RATE == pytest.approx(1.0 + len(speech) / SAMPLE_RATE, abs=0.6)
    assert segmenter.feed(silence(3.0)) == [] and segmenter.cut() == []
