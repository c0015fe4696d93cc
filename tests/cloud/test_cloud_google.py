"""Google Speech v2 engine through the official SDK against a local gRPC fake (real wire protocol)."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import trio

from connector.asr.base import EngineConfigError, EngineError, Flush, RecognizerSpec
from connector.asr.google import create_engine
from connector.asr.registry import load_engine
from connector.testing.drive import assert_threads_settle, drive, started_engines
from connector.vocabulary import SAMPLE_RATE
from tests.cloud.fake_google import Failure, FakeSpeech
from tests.cloud.synthetic import SpokenWord, chunks, render, word_sequence


@pytest.fixture
def baseline() -> Iterator[set[threading.Thread]]:
    before = set(threading.enumerate())
    yield before
    assert_threads_settle(before)


@pytest.fixture
def fake() -> Iterator[tuple[FakeSpeech, str]]:
    speech = FakeSpeech()
    server, address = speech.start()
    yield speech, address
    server.stop(grace=None).wait(5)


def env_for(address: str, **extra: str) -> dict[str, str]:
    env = {
        "GOOGLE_SPEECH_ENDPOINT": address,
        "GOOGLE_SPEECH_INSECURE": "true",
        "GOOGLE_CLOUD_PROJECT": "test-project",
        "GOOGLE_SPEECH_RETRY_BASE_S": "0.01",
        "GOOGLE_SPEECH_RETRY_MAX_S": "0.05",
        "GOOGLE_SPEECH_DRAIN_TIMEOUT_S": "5",
    }
    env.update(extra)
    return env


@pytest.fixture
async def make_engine(baseline: set[threading.Thread]) -> AsyncIterator[Any]:
    async with started_engines(create_engine) as make:
        yield make


def spec(**options: Any) -> RecognizerSpec:
    return RecognizerSpec(channel=0, language="en-US", options=options)


def expected(words: list[SpokenWord]) -> list[tuple[str, float, float]]:
    return [(w.name, round(w.start, 4), round(w.duration, 4)) for w in words]


async def test_streams_words_with_times_relative_to_fed_audio(fake: tuple[FakeSpeech, str], make_engine: Any) -> None:
    speech, address = fake
    engine = await make_engine(env_for(address))
    assert load_engine("google", env_for(address)).name == "google"
    words = word_sequence(8)
    run = await drive(engine.create(spec(), trio.CapacityLimiter(2)), chunks(render(words, 5.0)))

    assert run.final_words() == expected(words)
    assert [h.utterance for h in run.finals] == [0, 1]
    assert [h.text for h in run.finals] == ["w1000 w1010 w1020 w1030", "w1040 w1050 w1060 w1070"]
    assert run.partials, "interim results become partials"
    assert {p.utterance for p in run.partials} <= {0, 1}
    first_final_index = run.results.index(run.finals[0])
    assert all(h.utterance == 0 for h in run.results[:first_final_index])
    final = run.finals[0]
    assert final.start == pytest.approx(words[0].start)
    assert final.start + final.duration == pytest.approx(words[3].start + words[3].duration)
    assert final.confidence == pytest.approx(0.92) and final.words[0].confidence == pytest.approx(0.9)
    assert final.timing == "engine" and final.language == "en-US"

    config = speech.streams[0].config
    assert config.recognizer == "projects/test-project/locations/us-central1/recognizers/_"
    rc = config.streaming_config.config
    assert rc.model == "chirp_2" and list(rc.language_codes) == ["en-US"]
    assert rc.explicit_decoding_config.sample_rate_hertz == SAMPLE_RATE
    assert rc.explicit_decoding_config.audio_channel_count == 1
    assert rc.explicit_decoding_config.encoding.name == "LINEAR16"
    assert rc.features.enable_word_time_offsets and rc.features.enable_word_confidence
    assert config.streaming_config.streaming_features.interim_results


async def test_rollover_before_stream_limit_loses_no_word(fake: tuple[FakeSpeech, str], make_engine: Any) -> None:
    speech, address = fake
    speech.max_stream_seconds = 2.5  # the fake enforces a limit, like Google's 5 minutes
    engine = await make_engine(env_for(address, GOOGLE_SPEECH_STREAM_LIMIT_S="2", GOOGLE_SPEECH_OVERLAP_S="0.6"))
    words = word_sequence(40, pause_every=5)
    total = words[-1].start + 1.0
    recognizer = engine.create(spec(), trio.CapacityLimiter(2))
    run = await drive(recognizer, chunks(render(words, total)))

    assert run.final_words() == expected(words)  # every word once, at its true time
    assert len(speech.streams) >= total / 2
    assert all(s.outcome == "OK" for s in speech.streams)
    assert all(s.audio_seconds <= 2.5 for s in speech.streams)
    utterances = [h.utterance for h in run.finals]
    assert utterances == list(range(len(utterances)))
    starts = [h.start for h in run.finals]
    assert starts == sorted(starts)


async def test_transient_errors_are_retried_without_loss(fake: tuple[FakeSpeech, str], make_engine: Any) -> None:
    speech, address = fake
    speech.failures = {
        0: Failure(after=1.7, code=grpc.StatusCode.UNAVAILABLE),
        1: Failure(after=0, code=grpc.StatusCode.RESOURCE_EXHAUSTED),
        2: Failure(after=2.0, code=grpc.StatusCode.DEADLINE_EXCEEDED),
    }
    engine = await make_engine(env_for(address))
    words = word_sequence(16)
    run = await drive(engine.create(spec(), trio.CapacityLimiter(2)), chunks(render(words, words[-1].start + 1)))

    assert run.final_words() == expected(words)
    assert [s.outcome for s in speech.streams[:3]] == ["UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED"]
    assert len(speech.streams) == 4


async def test_persistent_failure_raises_after_retries(fake: tuple[FakeSpeech, str], make_engine: Any) -> None:
    speech, address = fake
    speech.fail_all = Failure(after=0.3, code=grpc.StatusCode.UNAVAILABLE, details="backend down")
    engine = await make_engine(env_for(address, GOOGLE_SPEECH_MAX_RETRIES="2"))
    with pytest.raises(EngineError, match="UNAVAILABLE: backend down"):
        await drive(engine.create(spec(), trio.CapacityLimiter(2)), chunks(render(word_sequence(8), 4)))
    assert len(speech.streams) == 3


async def test_rejected_credentials_are_not_retried(fake: tuple[FakeSpeech, str], make_engine: Any) -> None:
    speech, address = fake
    speech.fail_all = Failure(after=0, code=grpc.StatusCode.UNAUTHENTICATED, details="bad token")
    engine = await make_engine(env_for(address))
    with pytest.raises(EngineError, match="rejected the credentials"):
        await drive(engine.create(spec(), trio.CapacityLimiter(2)), chunks(render(word_sequence(4), 2)))
    assert len(speech.streams) == 1


async def test_hung_backend_times_out_and_returns(fake: tuple[FakeSpeech, str], make_engine: Any) -> None:
    speech, address = fake
    speech.hang = True
    engine = await make_engine(env_for(address, GOOGLE_SPEECH_DRAIN_TIMEOUT_S="0.3"))
    start = trio.current_time()
    run = await drive(engine.create(spec(), trio.CapacityLimiter(2)), chunks(render(word_sequence(4), 2)), deadline=5)
    assert run.results == []
    assert 0.3 <= trio.current_time() - start < 3
    assert speech.streams[0].half_closed


async def test_flush_finalises_now_and_keeps_listening(fake: tuple[FakeSpeech, str], make_engine: Any) -> None:
    speech, address = fake
    engine = await make_engine(env_for(address))
    first = [SpokenWord(1500, 0.2), SpokenWord(1510, 0.5)]
    second = [SpokenWord(1520, 1.3), SpokenWord(1530, 1.6)]
    pcm = render(first + second, 2.2)
    # No pause after the first words: only the Flush can end that utterance.
    items: list[Any] = [*chunks(pcm[:SAMPLE_RATE]), Flush(), *chunks(pcm[SAMPLE_RATE:])]
    run = await drive(engine.create(spec(), trio.CapacityLimiter(2)), items)
    assert [h.text for h in run.finals] == ["w1500 w1510", "w1520 w1530"]
    assert run.final_words() == expected(first + second)
    assert len(speech.streams) == 2


async def test_chirp_zero_confidences_use_fallback(fake: tuple[FakeSpeech, str], make_engine: Any) -> None:
    speech, address = fake
    engine = await make_engine(env_for(address, GOOGLE_SPEECH_FALLBACK_CONFIDENCE="0.8"))
    words = word_sequence(4)
    run = await drive(engine.create(spec(model="chirp"), trio.CapacityLimiter(2)), chunks(render(words, 2.5)))
    assert speech.streams[0].config.streaming_config.config.model == "chirp"
    assert run.finals[0].confidence == pytest.approx(0.8)
    assert [w.confidence for w in run.finals[0].words] == pytest.approx([0.8] * 4)


async def test_cancellation_mid_stream_leaves_no_thread(
    fake: tuple[FakeSpeech, str], make_engine: Any, baseline: set[threading.Thread]
) -> None:
    speech, address = fake
    engine = await make_engine(env_for(address))
    recognizer = engine.create(spec(), trio.CapacityLimiter(2))
    audio_tx, audio_rx = trio.open_memory_channel[Any](0)
    results_tx, results_rx = trio.open_memory_channel[Any](100)
    pcm = render(word_sequence(4), 2)
    with trio.move_on_after(10) as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(recognizer.run, audio_rx, results_tx)
            from connector.asr.base import AudioChunk

            for chunk in chunks(pcm):
                await audio_tx.send(AudioChunk(chunk))
            await results_rx.receive()  # the stream is live and answering
            nursery.cancel_scope.cancel()
    assert not scope.cancelled_caught
    await engine.aclose()
    assert_threads_settle(baseline)
    assert speech.streams[0].outcome != "OK"


async def test_check_reports_what_to_fix(fake: tuple[FakeSpeech, str], make_engine: Any, tmp_path: Path) -> None:
    _, address = fake
    engine = await make_engine(env_for(address))
    engine.check("en-US", {"model": "long", "profanityFilter": True})
    with pytest.raises(EngineConfigError, match=r"customConfig\.model='gpt-4o-transcribe'.*chirp_2"):
        engine.check("en-US", {"model": "gpt-4o-transcribe"})
    with pytest.raises(EngineConfigError, match="GOOGLE_SPEECH_LANGUAGES"):
        engine.check("xx-XX", {})
    with pytest.raises(EngineConfigError, match="profanityFilter"):
        engine.check("en-US", {"profanityFilter": "yes"})

    missing = await make_engine({"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "nope.json")})
    with pytest.raises(EngineConfigError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        missing.check("en-US", {})
    garbage = tmp_path / "sa.json"
    garbage.write_text(json.dumps({"type": "service_account", "client_email": "x@y"}))
    broken = await make_engine({"GOOGLE_APPLICATION_CREDENTIALS": str(garbage)})
    with pytest.raises(EngineConfigError, match="credentials"):
        broken.check("en-US", {})
    with pytest.raises(EngineConfigError, match="GOOGLE_SPEECH_MODEL"):
        create_engine({"GOOGLE_SPEECH_MODEL": "nonsense"})
    with pytest.raises(EngineConfigError, match="GOOGLE_SPEECH_OVERLAP_S"):
        create_engine({"GOOGLE_SPEECH_STREAM_LIMIT_S": "2", "GOOGLE_SPEECH_OVERLAP_S": "1.5"})


def test_pcm_is_sent_as_little_endian_linear16() -> None:
    from connector.asr.google.recognizer import _le_bytes

    assert _le_bytes(np.array([1, -2], dtype=np.int16)) == b"\x01\x00\xfe\xff"
