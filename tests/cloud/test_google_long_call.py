"""A 30-minute call through the real server and the Google engine, with stream rollover.

Google closes a streaming recognition after 5 minutes; the engine must roll over to a new
stream before that, with overlap, and lose no word and no timing. Here the fake enforces a
25 s limit and the engine rolls over at 20 s, so a 30-minute call crosses ~90 stream
boundaries. The audio is L16 (exact sample values) so the fake can "recognise" every word.

The call runs with the server's default bound on buffered audio (30 s): the client streams as fast
as it can but keeps at most 20 s of audio ahead of the last final it has received (no wall-clock
pacing, so a busy machine only makes it slower). Every 10 s the client reports 0.5 s of discarded
audio, so each channel's timeline map gains a gap 180 times; every offset must still be exact, and
the per-session structures (the timeline map, the arrivals ring, the queues, the outbox's utterance
ids) must stay bounded all call long. Memory as RSS is measured by the benchmarks, not here.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from connector.asr.google import create_engine
from connector.nursery.transcription import ChannelRun
from connector.protocol import Outbox, format_duration, parse_duration
from connector.testing.server import TEST_SECRET, StartServer, assert_nothing_left
from connector.vocabulary import SAMPLE_RATE
from tests.cloud.fake_google import FakeSpeech
from tests.cloud.synthetic import SpokenWord, render
from tests.rawclient import connect

L16_MONO = {"type": "audio", "format": "L16", "channels": ["external"], "rate": SAMPLE_RATE}
CALL_SECONDS = 30 * 60
GAP_EVERY = 10  # seconds of audio between two reported discards
GAP_SECONDS = 0.5
LEAD_SECONDS = 20.0  # audio the client sends ahead of the last final it received (the bound is 30 s)


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
    # Events at any rate: the client paces itself on the finals it receives, not on the token bucket.
    running = await start_server(engine=create_engine(env), engine_stop_timeout=120, event_rate=1000, event_burst=1000)
    words = long_call_words(CALL_SECONDS)
    pcm = render(words, CALL_SECONDS)
    gaps_before: list[float] = []  # stream seconds discarded before each 1 s frame
    sizes: list[dict[str, int]] = []
    async with connect(running.port, secret=TEST_SECRET, session_id=str(uuid.uuid4())) as client:
        opened = await client.open(media=[L16_MONO])
        assert opened["parameters"]["media"] == [L16_MONO]
        heard_until = 0.0  # stream position where the last final received ends
        step = SAMPLE_RATE  # 1 s frames keep the test quick; the engine re-chunks for gRPC anyway
        for second, start in enumerate(range(0, len(pcm), step)):
            if second and second % GAP_EVERY == 0:
                gap_start = format_duration(client.position)
                client.discarded += GAP_SECONDS
                await client.send("discarded", {"start": gap_start, "discarded": format_duration(GAP_SECONDS)})
            if second % 60 == 0:
                sizes.append(session_structure_sizes())
            gaps_before.append(client.discarded)
            while client.position - heard_until > LEAD_SECONDS:
                message = await client.next(limit=60)
                for final in final_transcripts(message):
                    heard_until = max(heard_until, parse_duration(final["offset"]) + parse_duration(final["duration"]))
            await client.send_raw(pcm[start : start + step].astype("<i2").tobytes())
            client.samples += len(pcm[start : start + step])
        await client.close(limit=120)

    assert len(sizes) == CALL_SECONDS // 60
    assert all(size["channels"] == 1 for size in sizes[1:])
    # The map had a gap every 10 s (180 in all) and is pruned after each final: it holds the gaps
    # of the minute before the last final and of the <= 20 s after it (~9), never the whole call.
    assert max(size["timeline"] for size in sizes) <= 12
    assert max(size["backlog_chunks"] for size in sizes) <= 31  # 1 s chunks waiting for the engine
    assert max(size["events_queued"] for size in sizes) <= 5
    assert max(size["utterance_ids"] for size in sizes) <= 2
    got: list[tuple[str, float]] = []
    for final in client.transcripts(final=True):
        tokens: list[dict[str, Any]] = final["alternatives"][0]["interpretations"][0]["tokens"]
        got += [(t["value"], parse_duration(t["offset"])) for t in tokens]
    assert len(got) == len(words)
    assert [name for name, _ in got] == [w.name for w in words]  # every word once, in order
    expected = [w.start + gaps_before[int(w.start)] for w in words]  # what was discarded before its frame
    assert max(abs(offset - want) for (_, offset), want in zip(got, expected, strict=True)) <= 0.001
    assert len(speech.streams) >= CALL_SECONDS / 25  # it really rolled over, ~90 times
    assert all(s.audio_seconds <= 25.0 for s in speech.streams)
    await assert_nothing_left(running)
    assert running.server.stats.outcomes == {"completed": 1}


def final_transcripts(message: dict[str, Any]) -> list[dict[str, Any]]:
    if message["type"] != "event":
        return []
    entities = message["parameters"]["entities"]
    return [e["data"] for e in entities if e["type"] == "transcript" and e["data"]["isFinal"]]


def session_structure_sizes() -> dict[str, int]:
    """The per-session structures that could grow with a call's length, found on the heap (the
    server keeps no handle on a session's internals); the largest across its channels."""
    runs = [o for o in gc.get_objects() if isinstance(o, ChannelRun) and not o.closed]
    outboxes = [o for o in gc.get_objects() if isinstance(o, Outbox) and not o.finished]
    return {
        "channels": len(runs),
        "timeline": max((len(run.timeline) for run in runs), default=0),
        "backlog_chunks": max((run.send.statistics().current_buffer_used for run in runs), default=0),
        "events_queued": max((outbox.queue_depth for outbox in outboxes), default=0),
        "utterance_ids": max((len(outbox._ids) for outbox in outboxes), default=0),
    }
