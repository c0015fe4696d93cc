"""The reference command-line client's modes (``client/src/index.ts``) and the situations a live
Genesys call adds (429, a language the engine lacks, the server ending the call), against the real
server with :class:`~tests.conformance.refclient.ReferenceClient` checking every server message.
"""

from __future__ import annotations

import uuid

import pytest
import trio

from connector.simulator.referee import check_supported_languages, suite_duration, transcript_validations
from connector.testing.scripted_engine import ScriptedEngine, ScriptedOptions
from connector.testing.server import RunningServer, StartServer, assert_nothing_left
from tests.conformance.refclient import NIL, ReferenceClient, Timing
from tests.conformance.refmedia import ToneSource, media_offers
from tests.conformance.scenario_kit import FAST, assert_closed_cleanly, start


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
    await client.wait_pong(5)
    await client.close()
    pings = client.sent_of("ping")
    assert [p["seq"] for p in pings[:5]] == [p["clientseq"] for p in client.messages("pong")[:5]]
    assert "rtt" not in pings[0]["parameters"]
    assert all(suite_duration(p["parameters"]["rtt"]) >= 0 for p in pings[1:])
    # Lower bounds only, each from an instant recorded before the one it bounds (a busy machine
    # can only make them later): the first ping leaves after the initial delay, counted from when
    # 'opened' was read, and its pong after that.
    opened_at = min(t for t, m in client.arrivals if m["type"] == "opened")
    first_ping_at = client.written_at[pings[0]["seq"]]
    assert first_ping_at - opened_at >= timing.initial_ping_delay
    assert min(t for t, m in client.arrivals if m["type"] == "pong") >= first_ping_at
    assert_closed_cleanly(client)


RETRY_AFTER = 1.5
CONTROL_MARGIN = 1.0


async def test_rate_limit_429_holds_events_but_not_control(nursery: trio.Nursery, running: RunningServer) -> None:
    """Genesys' 429 (``retryAfter``): events wait, ``updated``/``pong`` do not, the session goes on."""
    client = await start(nursery, running, ToneSource(offered_media=media_offers(["external"])))
    await client.wait_position(1.0)
    client.erroring(429, "Too many requests", retry_after=f"PT{RETRY_AFTER}S")
    client.updating("en-US")  # flush: a final is ready now but must wait for the back-off
    client.pinging()
    error_seq = client.sent_of("error")[0]["seq"]
    await client.wait_message("updated")
    await client.wait_message("pong", lambda m: m["clientseq"] > error_seq)
    await client.wait_message("event", lambda m: any(e["data"].get("isFinal") for e in m["parameters"]["entities"]))
    await client.close()
    error_at = client.written_at[error_seq]  # the server cannot have read it any earlier
    # Control is not held: 'updated' and the pong arrive well inside the back-off. The margin
    # (CONTROL_MARGIN of the RETRY_AFTER) is for this process being descheduled on a busy
    # machine; a server that held control too would answer no sooner than RETRY_AFTER.
    updated_at = min(t for t, m in client.arrivals if m["type"] == "updated")
    pong_at = min(t for t, m in client.arrivals if m["type"] == "pong" and m["clientseq"] > error_seq)
    assert max(updated_at, pong_at) - error_at < RETRY_AFTER - CONTROL_MARGIN
    # Events the server sent after reading the 429 (clientseq says what it had read) waited
    # retryAfter from when it read the error, which is after we wrote it: an exact lower bound.
    after = [t for t, m in client.arrivals if m["type"] == "event" and m["clientseq"] >= error_seq]
    assert after and min(after) - error_at >= RETRY_AFTER
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
