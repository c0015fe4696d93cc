"""The embedded engine behind the real server: espeak speech as 8 kHz µ-law over a real socket."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest
import trio

from connector.asr import Recognizer, RecognizerSpec
from connector.asr.local import LocalEngine
from connector.protocol import format_duration, parse_duration
from connector.testing.server import TEST_SECRET, RunningServer, StartServer, assert_nothing_left
from connector.testing.speech import silence, synthesize, tone, word_error_rate
from connector.vocabulary import SAMPLE_RATE
from tests.rawclient import MONO_EXT, connect, interleave

# Word-error bound for these sentences: tiny.en transcribes each of them exactly on espeak
# speech (WER 0.0, see docs/engine-local.md); 0.25 allows one slip per sentence while a broken
# pipeline (wrong channel, wrong rate, garbage decoding) scores near 1.
WER_BOUND = 0.25
OFFSET_TOLERANCE = 0.3

CUSTOMER = "i would like to check the status of my order please"
AGENT = "thank you for calling how can i help you today"


class SharedModel:
    """The session-wide loaded engine, started and stopped by its fixture, not by each server."""

    def __init__(self, engine: LocalEngine) -> None:
        self.engine = engine
        self.name = engine.name

    async def start(self) -> None:
        pass

    async def aclose(self) -> None:
        pass

    def supported_languages(self) -> Sequence[str]:
        return self.engine.supported_languages()

    def supports_language(self, language: str) -> bool:
        return self.engine.supports_language(language)

    def check(self, language: str, options: Mapping[str, Any]) -> None:
        self.engine.check(language, options)

    def create(self, spec: RecognizerSpec, limiter: Any) -> Recognizer:
        return self.engine.create(spec, limiter)


@pytest.fixture
async def server(start_server: StartServer, local_engine: LocalEngine) -> RunningServer:
    return await start_server(engine=SharedModel(local_engine))


def text_of(transcript: dict[str, Any]) -> str:
    return str(transcript["alternatives"][0]["interpretations"][0]["transcript"])


def tokens_of(transcript: dict[str, Any]) -> list[dict[str, Any]]:
    return list(transcript["alternatives"][0]["interpretations"][0]["tokens"])


def place(parts: list[tuple[float, np.ndarray]], total: float) -> np.ndarray:
    """Mix clips into silence at the given start times (seconds)."""
    out = np.zeros(round(total * SAMPLE_RATE), dtype=np.int16)
    for start, clip in parts:
        begin = round(start * SAMPLE_RATE)
        out[begin : begin + len(clip)] = clip
    return out


async def test_stereo_call_is_transcribed_per_channel_with_true_offsets(server: RunningServer) -> None:
    customer, agent = synthesize(CUSTOMER), synthesize(AGENT)
    external = place([(1.0, customer)], 1.0 + len(customer) / SAMPLE_RATE + 1.5)
    internal = place([(0.5, agent)], len(external) / SAMPLE_RATE)
    async with connect(server.port, secret=TEST_SECRET) as client:
        await client.open()
        await client.audio(external, internal, frame_ms=20)
        await client.close(limit=30)
    finals = {t["channelId"]: t for t in client.transcripts(final=True)}
    assert sorted(finals) == [0, 1]  # one utterance per channel, each on its own channel
    assert word_error_rate(CUSTOMER, text_of(finals[0])) <= WER_BOUND
    assert word_error_rate(AGENT, text_of(finals[1])) <= WER_BOUND
    for channel, start, clip in ((0, 1.0, customer), (1, 0.5, agent)):
        tokens = tokens_of(finals[channel])
        first = parse_duration(tokens[0]["offset"])
        last_end = parse_duration(tokens[-1]["offset"]) + parse_duration(tokens[-1]["duration"])
        assert abs(first - start) <= OFFSET_TOLERANCE, (channel, first)
        assert abs(last_end - (start + len(clip) / SAMPLE_RATE)) <= OFFSET_TOLERANCE + 0.2, (channel, last_end)
        assert 0 <= finals[channel]["alternatives"][0]["confidence"] <= 1
    await assert_nothing_left(server)


async def test_offsets_stay_true_after_discard_and_pause(server: RunningServer) -> None:
    first, second = synthesize("good morning"), synthesize("please send me a copy of the invoice")
    async with connect(server.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT])
        await client.audio(np.concatenate([silence(0.5), first, silence(1.0)]), frame_ms=20)
        await client.send("paused")
        paused_at = client.position
        client.discarded += 3.0  # the client skipped 3 s while paused
        await client.send("resumed", {"start": format_duration(paused_at), "discarded": "PT3S"})
        resume_at = client.position
        await client.audio(np.concatenate([silence(0.4), second, silence(1.0)]), frame_ms=20)
        await client.close(limit=30)
    finals = client.transcripts(final=True)
    assert len(finals) == 2
    assert abs(parse_duration(tokens_of(finals[0])[0]["offset"]) - 0.5) <= OFFSET_TOLERANCE
    assert abs(parse_duration(tokens_of(finals[1])[0]["offset"]) - (resume_at + 0.4)) <= OFFSET_TOLERANCE
    assert word_error_rate("please send me a copy of the invoice", text_of(finals[1])) <= WER_BOUND


async def test_partials_precede_their_final_with_the_same_id(server: RunningServer) -> None:
    """Partials yield to finals and to a busy limiter, so how many come depends on the machine's load, not
    only on the audio: the speech is streamed live (real time) until the first partial has arrived, however
    long that takes on a loaded machine, and the rest at once. What must hold is their order and ids."""
    speech = np.concatenate([synthesize(s) for s in (CUSTOMER, AGENT, CUSTOMER)])  # ~8 s, no pause
    pcm = np.concatenate([silence(0.3), speech])
    step = SAMPLE_RATE // 10
    async with connect(server.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT], custom={"partialResults": True})
        first_partial = trio.Event()

        async def read() -> None:
            while (await client.next(limit=60))["type"] != "closed":
                if any(not t["isFinal"] for t in client.transcripts()):
                    first_partial.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            began = trio.current_time()
            for start in range(0, len(pcm), step):
                with trio.move_on_at(began + start / SAMPLE_RATE):
                    await first_partial.wait()  # live until then, then as fast as the socket takes it
                await client.ws.send_message(interleave(pcm[start : start + step]))
                client.samples += len(pcm[start : start + step])
            assert first_partial.is_set(), "no partial while 8 s of speech streamed in real time"
            await client.audio(silence(1.0))
            await client.send("close", {"reason": "end"})
        await client.ws.aclose()
    transcripts = client.transcripts()
    assert transcripts[-1]["isFinal"] is True
    final_at = {t["id"]: i for i, t in enumerate(transcripts) if t["isFinal"]}
    partials = [(i, t) for i, t in enumerate(transcripts) if not t["isFinal"]]
    assert partials
    for i, partial in partials:  # each partial belongs to an utterance whose final comes after it
        assert final_at.get(partial["id"], -1) > i, (i, partial, transcripts)
    assert (
        word_error_rate(f"{CUSTOMER} {AGENT} {CUSTOMER}", " ".join(text_of(t) for t in client.transcripts(final=True)))
        <= WER_BOUND
    )
    await assert_nothing_left(server)


async def test_silence_and_a_tone_produce_no_transcript(server: RunningServer) -> None:
    async with connect(server.port, secret=TEST_SECRET) as client:
        await client.open()
        await client.audio(silence(4.0), tone(1000, 4.0), frame_ms=20)
        events = await client.close(limit=30)
    assert events == []
    assert client.transcripts() == []
