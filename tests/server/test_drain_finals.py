"""``closed`` comes after the finals of a recognizer that was already stopping (the drain's ``disconnect``).

The server's drain ends a live call with ``disconnect``: transcription stops and "finals still
flow" — until ``closed``. A client answers ``disconnect`` with ``close`` at once; the finals of the
utterance in progress are still being decoded then. These tests hold the engine (it reads nothing
until a gate opens) so that the ``close`` is handled while the stopped recognizer still owes its
final, then open the gate: the final must be sent, and ``closed`` only after it.

The real-engine versions (``tests/asr_local/test_served_drain.py``, ``tests/server/test_signals_local.py``)
lose the utterance in progress the same way.
"""

from __future__ import annotations

import numpy as np
import trio
import trio.testing

from connector.testing.scripted_engine import ScriptedEngine, ScriptedOptions
from connector.testing.server import TEST_SECRET, StartServer, assert_nothing_left
from tests.rawclient import MONO_EXT, RawClient, connect, silence, tone


async def finals_then_closed(client: RawClient, gate: trio.Event) -> list[str]:
    """Once the server has handled our ``close``, let the engine run; every message type up to ``closed``."""
    await trio.testing.wait_all_tasks_blocked()  # the server has read 'close' and answered what it would
    gate.set()
    types: list[str] = []
    while not types or types[-1] != "closed":
        message = await client.next(limit=10)
        entities = message["parameters"].get("entities", []) if message["type"] == "event" else []
        types.append("final" if any(e["data"]["isFinal"] for e in entities) else message["type"])
    await client.ws.aclose()
    return types


async def test_drain_disconnect_then_close_still_sends_the_final_in_progress(start_server: StartServer) -> None:
    gate = trio.Event()
    running = await start_server(ScriptedEngine(options=ScriptedOptions(stall_until=gate)), drain_timeout=0.0)
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT])
        await client.audio(np.concatenate([silence(0.2), tone(0.6)]))  # speech still going on
        running.server.request_stop()
        disconnect = await client.expect("disconnect")
        assert disconnect["parameters"]["reason"] == "completed"
        await client.send("close", {"reason": "disconnect"})
        types = await finals_then_closed(client, gate)
    assert types == ["final", "closed"]
    assert [t["offset"] for t in client.transcripts(final=True)] == ["PT0.2S"]
    await assert_nothing_left(running)


async def test_update_to_an_unsupported_language_then_close_still_sends_the_final(start_server: StartServer) -> None:
    gate = trio.Event()
    running = await start_server(ScriptedEngine(options=ScriptedOptions(stall_until=gate)))
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT])
        await client.audio(np.concatenate([silence(0.2), tone(0.6)]))
        await client.send("update", {"language": "xx-XX"})
        assert (await client.expect("updated"))["type"] == "updated"
        assert (await client.expect("pause"))["type"] == "pause"
        await client.send("close", {"reason": "end"})
        types = await finals_then_closed(client, gate)
    assert types == ["final", "closed"]
    await assert_nothing_left(running)
