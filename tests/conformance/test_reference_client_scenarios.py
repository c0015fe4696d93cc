"""The reference AudioHook client's scenarios, re-enacted against the real server on real sockets.

Each test mirrors one case of the reference jest suite (``test/audiohook-api-messages.test.ts``)
or one mode of its command-line client (``client/src/index.ts``), with
:class:`~tests.conformance.refclient.ReferenceClient` validating every server message the way
the reference client does. Media and ping clocks run 20x faster than real time; the open and
close deadlines stay real because they measure the server.

The suite's transcript tests stream an 11 s WAV that is not available here. ``suite_wav``
reproduces its timing: tone bursts exactly where the suite's table (``test/test-data.ts``)
expects utterances, so the suite's own count and offset/duration checks apply unchanged.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest
import trio

from connector.simulator.referee import (
    TRANSCRIPT_INFO,
    TRANSCRIPT_INFO_LONGER,
    check_supported_languages,
    common_validations,
    suite_duration,
    transcript_validations,
    validate_media_params,
)
from connector.testing.scripted_engine import ScriptedEngine, ScriptedOptions
from connector.testing.server import RunningServer, StartServer, assert_nothing_left
from tests.conformance.refclient import NIL, ReferenceClient, Timing
from tests.conformance.refmedia import PcmSource, ToneSource, media_offers
from tests.rawclient import silence, tone

FAST = Timing.compressed(20)


def suite_wav() -> np.ndarray:
    """11 s of mono audio with 'speech' where the suite expects its five utterances."""
    parts: list[np.ndarray] = []
    cursor = 0.0
    for offset, duration in TRANSCRIPT_INFO:
        parts += [silence(offset - cursor), tone(duration)]
        cursor = offset + duration
    parts.append(silence(11.0 - cursor))
    return np.concatenate(parts)


def transcript_server(start_server: StartServer, *, partials: bool = False) -> Any:
    # The suite's WAV has a 0.2 s pause between its 2nd and 3rd utterance: end utterances sooner.
    engine = ScriptedEngine(options=ScriptedOptions(end_silence=0.15))
    return start_server(engine, send_partials=partials)


async def start(nursery: trio.Nursery, running: RunningServer, source: Any = None, **options: Any) -> ReferenceClient:
    options.setdefault("timing", FAST)
    options.setdefault("custom_config", {})  # testconfig.cfg: customConfig={}
    client = ReferenceClient(running.port, source or ToneSource(), **options)
    return await client.start(nursery)


def assert_closed_cleanly(client: ReferenceClient) -> None:
    """What every suite case checks last: the ``closed`` message's envelope and counters."""
    assert client.view.closed_msg is not None and client.view.closed_msg["type"] == "closed"
    common_validations(client.view.closed_msg, client.view)
    assert client.unexpected_close_state is None


# ------------------------------------------------------------------------------ Open Message


@pytest.mark.parametrize(
    "channels",
    [
        [["external", "internal"], ["external"], ["internal"]],  # Double Stream Double Channel
        [["internal", "external"], ["internal"], ["external"]],  # ... Inverted
        [["external", "internal"]],  # Single Stream Double Channel
        [["external"]],  # Single Stream Single Channel External
        [["internal"]],  # Single Stream Single Channel Internal
    ],
    ids=["stereo+mono", "inverted", "stereo-only", "mono-external", "mono-internal"],
)
async def test_open_selects_one_offer_unchanged(
    nursery: trio.Nursery, running: RunningServer, channels: list[list[str]]
) -> None:
    offers = media_offers(*channels)
    client = await start(nursery, running, ToneSource(offered_media=offers))
    opened = client.view.opened_msg
    common_validations(opened, client.view)
    assert opened is not None and opened["type"] == "opened"
    validate_media_params(offers, opened["parameters"]["media"])
    assert opened["parameters"]["media"] == [offers[0]], "the server should take the first (best) offer"
    await client.close()
    assert_closed_cleanly(client)
    await assert_nothing_left(running)


# -------------------------------------------------------------------------- Audiohook Monitor


async def test_ping_pong(nursery: trio.Nursery, running: RunningServer) -> None:
    client = await start(nursery, running, timing=Timing())  # real time: the pong must be server seq 2
    client.pinging()
    await client.wait_pong()
    await client.close()
    ping, pong = client.view.ping_msg, client.view.pong_msg
    assert ping is not None and pong is not None
    assert (ping["seq"], ping["serverseq"]) == (2, 1)
    assert (pong["seq"], pong["clientseq"]) == (2, 2)
    assert_closed_cleanly(client)


async def test_ping_pong_close(nursery: trio.Nursery, running: RunningServer) -> None:
    client = await start(nursery, running, timing=Timing())
    client.pinging()
    await client.close()  # close goes out before the pong can arrive; the pong is then a straggler
    ping, pong = client.view.ping_msg, client.view.pong_msg
    assert ping is not None and pong is not None
    assert (ping["seq"], ping["serverseq"]) == (2, 1)
    assert (pong["seq"], pong["clientseq"]) == (2, 2)
    assert_closed_cleanly(client)


async def test_update_message(nursery: trio.Nursery, running: RunningServer) -> None:
    client = await start(nursery, running)
    client.updating("en-US")
    await client.close()
    assert_closed_cleanly(client)
    assert [m["type"] for m in client.view.received if m["type"] != "event"][-2:] == ["updated", "closed"]


async def test_discarded_message(nursery: trio.Nursery, running: RunningServer) -> None:
    client = await start(nursery, running)
    client.discarding("PT6.3S", "PT0.3S")
    await client.close()
    assert_closed_cleanly(client)


async def test_error_message_does_not_end_the_session(nursery: trio.Nursery, running: RunningServer) -> None:
    client = await start(nursery, running)
    client.erroring(400, "tough stuff")
    client.pinging()
    await client.wait_pong()  # still served after the client's error
    await client.close()
    assert_closed_cleanly(client)
    assert client.disconnect_msg is None


async def test_pause_and_resume(nursery: trio.Nursery, running: RunningServer) -> None:
    """Two ``paused`` in a row (source + helper), 10 s of stream time, then ``resumed``."""
    client = await start(nursery, running)
    await client.wait_position(0.6)
    client.pausing()
    paused_at = client.source.position
    await client.wait_position(paused_at + 10.0)
    client.resuming()
    await client.wait_position(paused_at + 10.6)
    await client.close()
    assert_closed_cleanly(client)
    paused = client.sent_of("paused")
    assert len(paused) == 2 and paused[0]["seq"] + 1 == paused[1]["seq"]
    (resumed,) = client.sent_of("resumed")
    assert suite_duration(resumed["parameters"]["discarded"]) >= 10.0
    # The tone before and after the pause are two utterances per channel; nothing invented for the gap.
    transcript_validations(client.view.transcripts)
    finals = [(t["channelId"], suite_duration(t["offset"])) for t in client.view.transcripts if t["isFinal"]]
    assert sorted(f for f in finals if f[1] == 0.0) == [(0, 0.0), (1, 0.0)]
    after = [f for f in finals if f[1] != 0.0]
    assert sorted(channel for channel, _ in after) == [0, 1]  # one per channel, none lost at close
    assert all(offset >= paused_at + 10.0 for _, offset in after)


async def test_close_message(nursery: trio.Nursery, running: RunningServer) -> None:
    client = await start(nursery, running)
    await client.close()
    assert_closed_cleanly(client)


# ----------------------------------------------------------------------- Transcript Connector


async def test_supported_languages(nursery: trio.Nursery, running: RunningServer) -> None:
    client = await start(nursery, running, PcmSource([suite_wav()], max_seconds=11), supported_languages=True)
    await client.close()
    check_supported_languages(client.view.opened_msg)
    assert client.view.opened_msg is not None and client.view.opened_msg["parameters"]["supportedLanguages"]
    assert_closed_cleanly(client)


async def run_suite_wav(
    nursery: trio.Nursery,
    running: RunningServer,
    action: str | None = None,
    at: float = 0.0,
    *,
    stereo: bool = False,
) -> ReferenceClient:
    wav = suite_wav()
    source = PcmSource([wav, np.zeros_like(wav)] if stereo else [wav], max_seconds=11)
    client = await start(nursery, running, source)
    if action is not None:
        await client.wait_position(at)
        if action == "update":
            client.updating("en-US")
        elif action == "discard":
            client.discarding(f"PT{at}S", "PT0.5S" if at == 8.0 else "PT0.3S")
        elif action == "pause":
            client.pausing()
            await trio.sleep(10.0 / 20)  # the suite's delay(10000); a WAV source stands still meanwhile
            client.resuming()
    await client.wait_closed()
    await client.wait_disconnected()
    return client


@pytest.mark.parametrize("stereo", [False, True], ids=["mono-wav", "stereo-wav"])
async def test_transcript_events(nursery: trio.Nursery, start_server: StartServer, stereo: bool) -> None:
    running = await transcript_server(start_server)
    client = await run_suite_wav(nursery, running, stereo=stereo)
    transcript_validations(client.view.transcripts, TRANSCRIPT_INFO)
    assert_closed_cleanly(client)
    assert client.sent_of("close")[0]["parameters"] == {"reason": "end"}


async def test_partials_on_would_break_the_suites_count(nursery: trio.Nursery, start_server: StartServer) -> None:
    """Why CONNECTOR_SEND_PARTIALS defaults to false: the suite counts every transcript event."""
    running = await transcript_server(start_server, partials=True)
    client = await run_suite_wav(nursery, running)
    with pytest.raises(AssertionError):
        transcript_validations(client.view.transcripts, TRANSCRIPT_INFO)


@pytest.mark.parametrize(
    ("action", "at", "expected"),
    [
        ("update", 8.0, TRANSCRIPT_INFO_LONGER),  # Test Update During Utterance: the utterance splits
        ("update", 6.3, TRANSCRIPT_INFO),  # Test Update During Silence
        ("discard", 8.0, TRANSCRIPT_INFO),  # Test Discard During Utterance (claims 0.5 s, sends it all)
        ("discard", 6.3, TRANSCRIPT_INFO),  # Test Discard During Silence
        ("pause", 8.0, TRANSCRIPT_INFO_LONGER),  # Test Pause & Resume During Utterance
        ("pause", 6.1, TRANSCRIPT_INFO),  # Test Pause & Resume During Silence
    ],
    ids=[
        "update-utterance",
        "update-silence",
        "discard-utterance",
        "discard-silence",
        "pause-utterance",
        "pause-silence",
    ],
)
async def test_transcripts_around_client_messages(
    nursery: trio.Nursery,
    start_server: StartServer,
    action: str,
    at: float,
    expected: tuple[tuple[float, float], ...],
) -> None:
    running = await transcript_server(start_server)
    client = await run_suite_wav(nursery, running, action, at)
    transcript_validations(client.view.transcripts, expected)
    assert_closed_cleanly(client)


async def test_discard_the_client_did_not_perform_moves_nothing(
    nursery: trio.Nursery, start_server: StartServer
) -> None:
    running = await transcript_server(start_server)
    client = await run_suite_wav(nursery, running, "discard", 8.0)
    assert [(t["offset"], t["duration"]) for t in client.view.transcripts][-1] == ("PT6.7S", "PT2.6S")


# ---------------------------------------------------------------- the command-line client's modes


@pytest.mark.parametrize("languages", [None, True], ids=["cli-probe", "genesys-probe"])
async def test_connection_probe(nursery: trio.Nursery, running: RunningServer, languages: bool | None) -> None:
    """``--connection-probe``: nil ids, no language, a zero-length stream: one empty frame, then close."""
    client = ReferenceClient(
        running.port,
        ToneSource(max_seconds=0),
        timing=FAST,
        conversation_id=NIL,
        participant={"id": NIL, "ani": "", "aniName": "", "dnis": ""},
        language=None,
        supported_languages=languages,
    )
    await client.start(nursery)
    await client.wait_disconnected()
    assert [m["type"] for m in client.view.received] == ["opened", "closed"]
    assert client.sent_of("close")[0]["parameters"] == {"reason": "end"}
    if languages:
        check_supported_languages(client.view.opened_msg)
    assert_closed_cleanly(client)
    await assert_nothing_left(running)
    assert running.engine.created == []


async def test_ping_cadence(nursery: trio.Nursery, running: RunningServer) -> None:
    """First ping after the initial delay, a second at the first pong, then one per interval."""
    timing = Timing(initial_ping_delay=0.1, ping_interval=0.25, frame_period=0.01)
    client = await start(nursery, running, timing=timing)
    opened_at = trio.current_time()
    await client.wait_pong(5)
    await client.close()
    pings = client.sent_of("ping")
    assert [p["seq"] for p in pings[:5]] == [p["clientseq"] for p in client.messages("pong")[:5]]
    assert "rtt" not in pings[0]["parameters"]
    assert all(suite_duration(p["parameters"]["rtt"]) >= 0 for p in pings[1:])
    pong_times = [t for t, m in client.arrivals if m["type"] == "pong"]
    assert pong_times[0] - opened_at >= 0.09
    assert_closed_cleanly(client)


async def test_rate_limit_429_holds_events_but_not_control(nursery: trio.Nursery, running: RunningServer) -> None:
    """Genesys' 429 (``retryAfter``): events wait, ``updated``/``pong`` do not, the session goes on."""
    client = await start(nursery, running, ToneSource(offered_media=media_offers(["external"])))
    await client.wait_position(1.0)
    client.erroring(429, "Too many requests", retry_after="PT0.6S")
    sent_at = trio.current_time()
    client.updating("en-US")  # flush: a final is ready now but must wait for the back-off
    client.pinging()
    await client.wait_pong()
    await client.wait_message("event", lambda m: any(e["data"].get("isFinal") for e in m["parameters"]["entities"]))
    await client.close()
    updated_at = min(t for t, m in client.arrivals if m["type"] == "updated")
    pong_at = min(t for t, m in client.arrivals if m["type"] == "pong" and t > sent_at)
    assert max(updated_at, pong_at) - sent_at < 0.5
    # Events the server sent after reading the 429 (clientseq says what it had read) waited.
    error_seq = client.sent_of("error")[0]["seq"]
    after = [t for t, m in client.arrivals if m["type"] == "event" and m["clientseq"] >= error_seq]
    assert after and min(after) - sent_at >= 0.5
    assert client.disconnect_msg is None
    assert_closed_cleanly(client)


async def test_finals_queued_behind_a_429_survive_close(nursery: trio.Nursery, running: RunningServer) -> None:
    client = await start(nursery, running, ToneSource(offered_media=media_offers(["external"])))
    await client.wait_position(1.0)
    client.erroring(429, "Too many requests", retry_after="PT0.3S")
    client.updating("en-US")  # a final for 0-1 s is queued behind the back-off
    await client.wait_position(1.2)  # more tone: a second final comes at close
    await client.close()  # ... and the call ends before the back-off is over
    finals = [t for t in client.view.transcripts if t["isFinal"]]
    assert [t["offset"] for t in finals] == ["PT0S", "PT1S"]
    assert_closed_cleanly(client)


async def test_unsupported_language_start_paused_then_update_resumes(
    nursery: trio.Nursery, running: RunningServer
) -> None:
    """``startPaused``: the source pauses and says so; after ``update`` the server's ``resume`` restarts it."""
    client = await start(nursery, running, ToneSource(offered_media=media_offers(["external"])), language="xx-XX")
    opened = client.view.opened_msg
    assert opened is not None and opened["parameters"].get("startPaused") is True
    assert client.sent_of("paused"), "the media source reports its start-paused state"
    await client.wait_position(1.0)
    client.updating("en-US")
    await client.wait_position(2.0)
    await client.wait_message("resume")  # the client answers it with 'resumed' at once
    assert client.sent_of("resumed")
    # A server-initiated pause mid-call: switch to a language the engine lacks.
    await client.wait_position(4.0)
    client.updating("de-DE")
    await client.wait_position(5.0)
    await client.close()
    types = [m["type"] for m in client.view.received if m["type"] not in ("event", "pong")]
    assert types == ["opened", "updated", "resume", "updated", "pause", "closed"]
    assert len(client.sent_of("paused")) == 2 and len(client.sent_of("resumed")) == 1
    transcript_validations(client.view.transcripts)
    assert any(t["isFinal"] for t in client.view.transcripts)
    assert_closed_cleanly(client)


async def test_server_disconnect_on_engine_failure(nursery: trio.Nursery, start_server: StartServer) -> None:
    engine = ScriptedEngine(options=ScriptedOptions(fail_after_seconds=1.0))
    running = await start_server(engine)
    client = await start(nursery, running)
    await client.wait_disconnected()
    assert client.disconnect_msg is not None
    assert client.disconnect_msg["parameters"]["reason"] == "error"
    assert client.sent_of("close")[-1]["parameters"] == {"reason": "disconnect"}
    assert_closed_cleanly(client)
    await assert_nothing_left(running)


async def test_server_disconnect_on_shutdown(nursery: trio.Nursery, start_server: StartServer) -> None:
    running = await start_server(drain_timeout=0.1)  # past the drain deadline, live calls are asked to end
    client = await start(nursery, running)
    await client.wait_position(0.5)
    running.server.request_stop()
    await client.wait_disconnected()
    assert client.disconnect_msg is not None
    assert client.disconnect_msg["parameters"]["reason"] == "completed"
    assert_closed_cleanly(client)


async def test_server_disconnect_unauthorized_org_mismatch(nursery: trio.Nursery, running: RunningServer) -> None:
    client = await start(nursery, running, header_organization_id=str(uuid.uuid4()))
    await client.wait_disconnected()
    assert client.disconnect_msg is not None
    assert client.disconnect_msg["parameters"]["reason"] == "unauthorized"
    assert_closed_cleanly(client)


async def test_a_very_long_utterance_stays_under_the_message_limit(
    nursery: trio.Nursery, running: RunningServer
) -> None:
    """170 s of unbroken 'speech' (680 words in one utterance) must still reach the client."""
    source = ToneSource(max_seconds=170, offered_media=media_offers(["external"]))
    client = await start(nursery, running, source, timing=Timing(frame_period=0, initial_ping_delay=60))
    await client.wait_closed(limit=20)
    finals = [t for t in client.view.transcripts if t["isFinal"]]
    assert finals and suite_duration(finals[-1]["offset"]) + suite_duration(finals[-1]["duration"]) >= 169.9
    assert_closed_cleanly(client)
