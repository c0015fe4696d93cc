"""Every message path of a session, through the real server over real sockets."""

from __future__ import annotations

import numpy as np
import pytest

from connector.protocol import parse_duration
from connector.testing.server import TEST_SECRET, RunningServer, StartServer, assert_nothing_left
from tests.rawclient import INVERTED, MONO_EXT, MONO_INT, STEREO, connect, silence, tone


def seconds(duration: str) -> float:
    return parse_duration(duration)


async def test_probe_opens_lists_languages_and_starts_nothing(running: RunningServer) -> None:
    async with connect(running.port, secret=TEST_SECRET) as client:
        opened = await client.open(probe=True, supported_languages=True)
        assert opened["parameters"]["media"] == [STEREO]
        assert opened["parameters"]["supportedLanguages"] == ["en-US", "es-ES", "fr-FR"]
        assert await client.close() == []
    await assert_nothing_left(running)
    assert running.engine.created == []
    assert running.server.stats.outcomes == {"probe": 1}


@pytest.mark.parametrize(
    ("media", "speaker_channel"),
    [([INVERTED, MONO_EXT], 1), ([MONO_EXT], 0), ([MONO_INT], 0)],
)
async def test_channel_ids_follow_the_negotiated_order(
    running: RunningServer, media: list[dict[str, object]], speaker_channel: int
) -> None:
    async with connect(running.port, secret=TEST_SECRET) as client:
        opened = await client.open(media=media)
        chosen = opened["parameters"]["media"][0]
        assert chosen == media[0]
        # The customer (external) speaks; in inverted order external is the second channel.
        external = np.concatenate([silence(0.5), tone(0.6), silence(0.5)])
        if len(chosen["channels"]) == 2:
            await client.audio(silence(len(external) / 8000), external)
        else:
            await client.audio(external)
        await client.close()
    finals = client.transcripts(final=True)
    assert [(t["channelId"], t["offset"]) for t in finals] == [(speaker_channel, "PT0.5S")]


async def test_ping_pong_carries_the_ping_seq(running: RunningServer) -> None:
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open()
        for _ in range(3):
            seq = await client.send("ping", {"rtt": "PT0.002S"})
            pong = await client.expect("pong")
            assert pong["clientseq"] == seq and pong["parameters"] == {}
        await client.close()


async def test_partials_precede_their_final_with_the_same_id(running: RunningServer) -> None:
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT], custom={"partialResults": True})
        await client.audio(np.concatenate([silence(0.2), tone(1.2), silence(0.6)]))
        await client.close()
    transcripts = client.transcripts()
    assert [t["isFinal"] for t in transcripts] == [False, True]
    assert transcripts[0]["id"] == transcripts[1]["id"]


async def test_offsets_survive_pause_discard_and_resync(running: RunningServer) -> None:
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT])
        await client.audio(np.concatenate([silence(0.5), tone(0.5), silence(0.5)]))  # speech at 0.5 s
        await client.send("paused")
        client.discarded += 2.0  # a tone-style client: 2 s pass while paused
        await client.send("resumed", {"start": "PT1.5S", "discarded": "PT2S"})
        await client.audio(np.concatenate([silence(0.5), tone(0.5), silence(0.5)]))  # speech at 4.0 s
        client.discarded += 1.0
        await client.send("discarded", {"start": "PT5S", "discarded": "PT1S"})
        await client.audio(np.concatenate([silence(0.25), tone(0.5), silence(0.5)]))  # speech at 6.25 s
        await client.close()
    finals = client.transcripts(final=True)
    assert [t["offset"] for t in finals] == ["PT0.5S", "PT4S", "PT6.25S"]
    for final in finals:
        tokens = final["alternatives"][0]["interpretations"][0]["tokens"]
        assert seconds(tokens[0]["offset"]) == seconds(final["offset"])  # token offsets are absolute too


async def test_paused_flushes_a_final_immediately(running: RunningServer) -> None:
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT])
        await client.audio(np.concatenate([silence(0.2), tone(0.4)]))  # still speaking
        await client.send("paused")
        event = await client.expect("event")
        data = event["parameters"]["entities"][0]["data"]
        assert data["isFinal"] is True and data["offset"] == "PT0.2S"
        await client.close()


async def test_update_flushes_restarts_in_new_language_and_answers_updated(running: RunningServer) -> None:
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT], language="en-US")
        await client.audio(np.concatenate([silence(0.2), tone(0.4)]))
        await client.send("update", {"language": "es-ES"})
        await client.expect("updated")
        await client.audio(np.concatenate([silence(0.2), tone(0.4), silence(0.5)]))
        await client.close()
    finals = client.transcripts(final=True)
    languages = [f["alternatives"][0]["languages"] for f in finals]
    assert languages == [["en-US"], ["es-ES"]]
    assert [f["offset"] for f in finals] == ["PT0.2S", "PT0.8S"]
    assert [spec.language for spec in running.engine.created] == ["en-US", "es-ES"]


async def test_unsupported_language_starts_paused_until_a_valid_update(running: RunningServer) -> None:
    async with connect(running.port, secret=TEST_SECRET) as client:
        opened = await client.open(language="xx-XX")
        assert opened["parameters"]["startPaused"] is True
        await client.send("paused")
        await client.send("update", {"language": "fr-FR"})
        await client.expect("updated")
        await client.expect("resume")
        await client.send("resumed", {"start": "PT0S", "discarded": "PT0S"})
        await client.audio(np.concatenate([silence(0.3), tone(0.5), silence(0.5)]), silence(1.3))
        await client.close()
    assert [spec.language for spec in running.engine.created] == ["fr-FR", "fr-FR"]
    assert [f["offset"] for f in client.transcripts(final=True)] == ["PT0.3S"]


async def test_client_errors_are_not_fatal(running: RunningServer) -> None:
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open()
        await client.send("error", {"code": 409, "message": "unexpected"})
        await client.send("error", {"code": 429, "message": "rate", "retryAfter": "PT0.1S"})
        seq = await client.send("ping")
        assert (await client.expect("pong"))["clientseq"] == seq
        await client.close()
    await assert_nothing_left(running)
    assert running.server.stats.outcomes == {"completed": 1}


async def test_unknown_message_types_and_fields_are_ignored(running: RunningServer) -> None:
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(custom={"anything": [1, 2]})
        await client.send("futureType", {"x": 1}, futureEnvelopeField=True)
        seq = await client.send("ping")
        assert (await client.expect("pong"))["clientseq"] == seq
        await client.close()


@pytest.mark.parametrize(
    ("violation", "fragment"),
    [
        ("seq", "seq"),
        ("serverseq", "serverseq"),
        ("oversize", "too large"),
        ("json", "JSON"),
        ("odd-frame", "multiple"),
        ("version", "version"),
    ],
)
async def test_protocol_violations_disconnect_then_close(
    running: RunningServer, violation: str, fragment: str
) -> None:
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open()
        await client.audio(np.concatenate([silence(0.2), tone(0.5), silence(0.5)]), silence(1.2))
        if violation == "seq":
            client.seq += 5
            await client.send("ping")
        elif violation == "serverseq":
            await client.send("ping", serverseq=50)
        elif violation == "oversize":
            await client.send("ping", {"pad": "x" * 70000})
        elif violation == "json":
            await client.send_raw("{this is not json")
        elif violation == "odd-frame":
            await client.send_raw(b"\xff\xff\xff")
        elif violation == "version":
            await client.send("ping", version="3")
        disconnect = await client.expect("disconnect")
        assert disconnect["parameters"]["reason"] == "error"
        assert fragment in disconnect["parameters"]["info"]
        client.seq = client.received[-1]["clientseq"]  # resume counting from what the server accepted
        await client.close(reason="disconnect")
    # the utterance heard before the violation was still delivered
    assert [f["offset"] for f in client.transcripts(final=True)] == ["PT0.2S"]
    await assert_nothing_left(running)
    assert running.server.stats.outcomes == {"error": 1}


async def test_open_timeout_disconnects(start_server: StartServer) -> None:
    running = await start_server(open_timeout=0.2, close_timeout=0.5)
    async with connect(running.port, secret=TEST_SECRET) as client:
        disconnect = await client.expect("disconnect")
        assert "open" in disconnect["parameters"]["info"]
        await client.closed_by_server()
    await assert_nothing_left(running)


@pytest.mark.parametrize(
    ("server_default", "per_call", "expected"),
    [(False, None, [True]), (True, None, [False, True]), (True, False, [True]), (False, True, [False, True])],
)
async def test_partials_off_by_default_and_chosen_per_call(
    start_server: StartServer, server_default: bool, per_call: bool | None, expected: list[bool]
) -> None:
    running = await start_server(send_partials=server_default)
    custom = {} if per_call is None else {"partialResults": per_call}
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT], custom=custom)
        await client.audio(np.concatenate([silence(0.2), tone(1.2), silence(0.6)]))
        await client.close()
    assert [t["isFinal"] for t in client.transcripts()] == expected


async def test_partial_results_option_must_be_boolean(running: RunningServer) -> None:
    async with connect(running.port, secret=TEST_SECRET) as client:
        reply = await client.open(custom={"partialResults": "yes"})
        assert reply["type"] == "disconnect" and "partialResults" in reply["parameters"]["info"]
        await client.close(reason="disconnect")


async def test_unknown_vendor_gets_a_clear_disconnect(running: RunningServer) -> None:
    async with connect(running.port, secret=TEST_SECRET) as client:
        reply = await client.open(custom={"transcriptionVendor": "acme"})
        assert reply["type"] == "disconnect" and reply["parameters"]["reason"] == "error"
        assert "acme" in reply["parameters"]["info"] and "scripted" in reply["parameters"]["info"]
        await client.close(reason="disconnect")
    assert running.engine.created == []
