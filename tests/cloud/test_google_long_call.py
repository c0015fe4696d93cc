"""A 30-minute call through the real server and the Google engine, with stream rollover.

Google closes a streaming recognition after 5 minutes; the engine must roll over to a new
stream before that, with overlap, and lose no word and no timing. Here the fake enforces a
25 s limit and the engine rolls over at 20 s, so a 30-minute call crosses ~90 stream
boundaries. The audio is L16 (exact sample values) so the fake can "recognise" every word.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from connector.asr.google import create_engine
from connector.protocol import parse_duration
from connector.testing.server import TEST_SECRET, StartServer, assert_nothing_left
from connector.vocabulary import SAMPLE_RATE
from tests.cloud.fake_google import FakeSpeech
from tests.cloud.synthetic import SpokenWord, render
from tests.rawclient import connect

L16_MONO = {"type": "audio", "format": "L16", "channels": ["external"], "rate": SAMPLE_RATE}
CALL_SECONDS = 30 * 60


@pytest.fixture
def fake() -> Iterator[tuple[FakeSpeech, str]]:
    speech = FakeSpeech()
    server, address = speech.start()
    speech.max_stream_seconds = 25.0
    yield speech, address
    server.stop(grace=None).wait(5)


def long_call_words(seconds: float) -> list[SpokenWord]:
    """Words 0.1 s apart with a pause after every 5, values cycling so they stay int16."""
    words: list[SpokenWord] = []
    t, i = 0.5, 0
    while t < seconds - 2:
        words.append(SpokenWord(1000 + 10 * (i % 3000), round(t, 4)))
        i += 1
        t += 0.2 + (0.7 if i % 5 == 0 else 0.1)
    return words


@pytest.mark.slow
async def test_thirty_minute_call_loses_no_word_across_rollovers(
    start_server: StartServer, fake: tuple[FakeSpeech, str]
) -> None:
    speech, address = fake
    env = {
        "GOOGLE_SPEECH_ENDPOINT": address,
        "GOOGLE_SPEECH_INSECURE": "true",
        "GOOGLE_CLOUD_PROJECT": "test-project",
        "GOOGLE_SPEECH_STREAM_LIMIT_S": "20",
        "GOOGLE_SPEECH_OVERLAP_S": "2",
    }
    # Streamed far faster than real time: give the engine room to work through the backlog
    # before close (a real-time call has none).
    running = await start_server(
        engine=create_engine(env), max_buffered_audio=CALL_SECONDS, engine_stop_timeout=120
    )
    words = long_call_words(CALL_SECONDS)
    pcm = render(words, CALL_SECONDS)
    async with connect(running.port, secret=TEST_SECRET, session_id=str(uuid.uuid4())) as client:
        opened = await client.open(media=[L16_MONO])
        assert opened["parameters"]["media"] == [L16_MONO]
        step = SAMPLE_RATE  # 1 s frames keep the test quick; the engine re-chunks for gRPC anyway
        for start in range(0, len(pcm), step):
            await client.send_raw(pcm[start : start + step].astype("<i2").tobytes())
            client.samples += len(pcm[start : start + step])
        await client.close(limit=120)

    got: list[tuple[str, float]] = []
    for final in client.transcripts(final=True):
        tokens: list[dict[str, Any]] = final["alternatives"][0]["interpretations"][0]["tokens"]
        got += [(t["value"], parse_duration(t["offset"])) for t in tokens]
    assert len(got) == len(words)
    assert [name for name, _ in got] == [w.name for w in words]  # every word once, in order
    assert max(abs(offset - w.start) for (_, offset), w in zip(got, words, strict=True)) <= 0.001
    assert len(speech.streams) >= CALL_SECONDS / 25  # it really rolled over, ~90 times
    assert all(s.audio_seconds <= 25.0 for s in speech.streams)
    await assert_nothing_left(running)
    assert running.server.stats.outcomes == {"completed": 1}
