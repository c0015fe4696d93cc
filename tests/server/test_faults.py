"""Cancellation and fault injection: whatever breaks, nothing is left and no final is lost."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import trio
import trio.testing

from connector.testing.scripted_engine import ScriptedEngine, ScriptedOptions
from connector.testing.server import TEST_SECRET, StartServer, assert_nothing_left
from tests.rawclient import MONO_EXT, connect, silence, tone


def speech_then_more(seconds_of_tail: float = 1.0) -> np.ndarray:
    return np.concatenate([silence(0.2), tone(0.5), silence(0.5), tone(0.3), silence(seconds_of_tail)])


async def test_client_vanishes_mid_stream(start_server: StartServer) -> None:
    engine = ScriptedEngine(options=ScriptedOptions(use_threads=True))
    running = await start_server(engine=engine)
    threads_before = threading.active_count()
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT])
        await client.audio(np.concatenate([silence(0.2), tone(2.0)]))  # mid-utterance
        # Drop the TCP connection without a WebSocket close handshake.
        stream = client.ws._stream
        await trio.aclose_forcefully(stream)
    await assert_nothing_left(running)
    assert running.server.stats.outcomes == {"vanished": 1}
    # trio keeps idle worker threads cached; none may still be doing engine work, and none per session remain
    assert running.server.limiter.borrowed_tokens == 0
    assert threading.active_count() <= threads_before + 2


async def test_engine_raises_finals_before_the_fault_are_sent(start_server: StartServer) -> None:
    engine = ScriptedEngine(options=ScriptedOptions(fail_after_seconds=2.0))
    running = await start_server(engine=engine)
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT])
        await client.audio(np.concatenate([silence(0.2), tone(0.5), silence(0.5), tone(2.0)]))
        disconnect = await client.expect("disconnect")
        assert disconnect["parameters"] == {"reason": "error", "info": "scripted engine failure"}
        await client.close(reason="disconnect")
    assert [f["offset"] for f in client.transcripts(final=True)] == ["PT0.2S"]
    await assert_nothing_left(running)
    assert running.server.stats.outcomes == {"error": 1}


async def test_one_channel_failing_still_flushes_the_other(start_server: StartServer) -> None:
    class HalfBroken(ScriptedEngine):
        def create(self, spec, limiter):  # type: ignore[no-untyped-def]
            recognizer = super().create(spec, limiter)
            if spec.channel == 1:
                recognizer.opts = ScriptedOptions(fail_after_seconds=0.5)
            return recognizer

    running = await start_server(engine=HalfBroken())
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open()
        # external is mid-utterance when the internal channel's engine fails
        await client.audio(np.concatenate([silence(0.2), tone(1.0)]), silence(1.2))
        await client.expect("disconnect")
        await client.close(reason="disconnect")
    finals = client.transcripts(final=True)
    assert [(f["channelId"], f["offset"]) for f in finals] == [(0, "PT0.2S")]
    await assert_nothing_left(running)


async def test_engine_hangs_on_close_session_still_closes(start_server: StartServer) -> None:
    engine = ScriptedEngine(options=ScriptedOptions(hang_on_close=True))
    running = await start_server(engine=engine, engine_stop_timeout=0.3)
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT])
        await client.audio(np.concatenate([silence(0.2), tone(0.5)]))
        events = await client.close(limit=5)
    # the final was emitted before the hang and reached the client before 'closed'
    assert [e["parameters"]["entities"][0]["data"]["isFinal"] for e in events][-1] is True
    await assert_nothing_left(running)
    assert running.server.stats.outcomes == {"completed": 1}


async def test_client_never_closes_after_disconnect(start_server: StartServer) -> None:
    running = await start_server(close_timeout=0.3)
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open()
        await client.send_raw(b"\xff")  # odd frame: disconnect
        await client.expect("disconnect")
        await client.closed_by_server(limit=5)  # we ignore it; the server must drop us
    await assert_nothing_left(running)


async def test_shutdown_mid_call_drains_then_disconnects_with_finals(start_server: StartServer) -> None:
    running = await start_server(drain_timeout=0.2, close_timeout=2)
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT])
        await client.audio(np.concatenate([silence(0.2), tone(0.6)]))  # mid-utterance
        running.server.request_stop()
        disconnect = await client.expect("disconnect")
        assert disconnect["parameters"]["reason"] == "completed"
        await client.close(reason="disconnect")
    finals = [e for e in client.transcripts(final=True)]
    assert [f["offset"] for f in finals] == ["PT0.2S"]
    # The drain window ends the call: 'disconnect' first, then the final of the utterance that
    # was still open (the engine ends it when the recognizers stop), and only then 'closed'.
    assert [m["type"] for m in client.received] == ["opened", "disconnect", "event", "closed"]
    await assert_nothing_left(running)
    assert running.server.stats.outcomes == {"disconnected": 1}


async def test_shutdown_lets_a_call_finish_within_the_drain_window(start_server: StartServer) -> None:
    running = await start_server(drain_timeout=30)
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT])
        running.server.request_stop()
        await trio.testing.wait_all_tasks_blocked()
        # new calls are refused while draining, health says so
        from tests.server.test_handshake import http_request

        status, _, body = await http_request(running.port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 503 and json.loads(body)["status"] == "draining"
        await client.audio(np.concatenate([silence(0.2), tone(0.4), silence(0.5)]))
        await client.close()
    assert [f["offset"] for f in client.transcripts(final=True)] == ["PT0.2S"]
    await assert_nothing_left(running)
    assert running.server.stats.outcomes == {"completed": 1}


async def test_many_sessions_cancelled_from_outside_leave_nothing(start_server: StartServer) -> None:
    running = await start_server()
    opened = 0
    all_open = trio.Event()
    async with trio.open_nursery() as nursery:

        async def call() -> None:
            nonlocal opened
            async with connect(running.port, secret=TEST_SECRET) as client:
                await client.open()
                opened += 1
                if opened == 20:
                    all_open.set()
                await client.audio(np.concatenate([silence(0.2), tone(5.0)]), silence(5.2), frame_ms=20)
                await trio.sleep_forever()

        for _ in range(20):
            nursery.start_soon(call)
        with trio.fail_after(20):
            await all_open.wait()
        nursery.cancel_scope.cancel()
    await assert_nothing_left(running)
    assert running.server.stats.sessions_total == 20


async def test_silent_client_is_dropped_after_the_idle_timeout(start_server: StartServer) -> None:
    running = await start_server(idle_timeout=0.3)
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open()
        await client.closed_by_server(limit=5)  # we send nothing more: no audio, no ping
    await assert_nothing_left(running)
    assert running.server.stats.outcomes == {"vanished": 1}


async def test_a_stalled_engine_drops_audio_beyond_the_bound_and_offsets_stay_exact(
    start_server: StartServer,
) -> None:
    from connector.nursery import SessionReport

    release = trio.Event()
    reports: list[SessionReport] = []
    engine = ScriptedEngine(options=ScriptedOptions(stall_until=release))
    running = await start_server(
        engine=engine, max_buffered_audio=1.0, server_kwargs={"on_session_end": reports.append}
    )
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT])
        await client.audio(np.concatenate([silence(0.2), tone(0.5), silence(2.3)]))  # 3 s; 1 s fits
        seq = await client.send("ping")
        assert (await client.expect("pong"))["clientseq"] == seq  # the server has read all of it
        release.set()
        await client.audio(np.concatenate([silence(0.5), tone(0.5), silence(0.5)]))  # speech at 3.5 s
        await client.close()
    await running.idle()
    assert [f["offset"] for f in client.transcripts(final=True)] == ["PT0.2S", "PT3.5S"]
    (report,) = reports
    assert report.transcription.audio_dropped_seconds == pytest.approx(2.0)
