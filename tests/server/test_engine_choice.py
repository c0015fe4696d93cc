"""Several engines enabled in one server: each call picks one with ``customConfig.transcriptionVendor``.

Two scripted engines under different names in one real server on 127.0.0.1, port 0: calls that
ask for ``beta`` get ``beta``, calls that ask for ``alpha`` or for nothing get ``alpha`` (the
default), all at the same time; a vendor the server does not have is refused with a
``disconnect`` whose ``info`` names it and the enabled ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import trio

from connector.asr import EngineRegistry
from connector.config import Settings
from connector.nursery import SessionLimits
from connector.security import ApiKey
from connector.server import ConnectorServer
from connector.testing.scripted_engine import ScriptedEngine
from connector.testing.server import RunningServer, assert_nothing_left
from tests.rawclient import MONO_EXT, connect, silence, tone


async def serve_two(nursery: trio.Nursery) -> tuple[RunningServer, ScriptedEngine, ScriptedEngine]:
    """``connector.testing.server.start_server`` serves one engine; this is the same server with two."""
    alpha, beta = ScriptedEngine(name="alpha"), ScriptedEngine(name="beta")
    settings = Settings(
        host="127.0.0.1",
        port=0,
        api_keys=(ApiKey("open-key", None),),
        engines=("alpha", "beta"),
        default_engine="alpha",
        worker_threads=2,
        limits=SessionLimits(event_batch_threshold=0),
    )
    server = ConnectorServer(settings, EngineRegistry([alpha, beta], "alpha"))
    port: int = await nursery.start(server.serve)
    return RunningServer(server, port, alpha), alpha, beta


async def call(port: int, custom: dict[str, Any] | None, results: dict[str, list[str]], name: str) -> None:
    async with connect(port, api_key="open-key") as client:
        opened = await client.open(media=[MONO_EXT], custom=custom)
        assert opened["type"] == "opened", opened
        await client.audio(np.concatenate([silence(0.3), tone(0.6), silence(1.0)]))
        await client.close()
    results[name] = [t["offset"] for t in client.transcripts(final=True)]


async def test_each_call_gets_the_engine_it_asked_for(nursery: trio.Nursery) -> None:
    running, alpha, beta = await serve_two(nursery)
    results: dict[str, list[str]] = {}
    async with trio.open_nursery() as calls:  # at the same time, in one server
        calls.start_soon(call, running.port, {"transcriptionVendor": "beta"}, results, "beta-1")
        calls.start_soon(call, running.port, {"transcriptionVendor": "alpha"}, results, "alpha")
        calls.start_soon(call, running.port, {}, results, "default")
        calls.start_soon(call, running.port, {"transcriptionVendor": "beta"}, results, "beta-2")
    assert results == {name: ["PT0.3S"] for name in ("beta-1", "alpha", "default", "beta-2")}
    assert len(beta.created) == 2 and len(alpha.created) == 2  # one mono recognizer per call
    await assert_nothing_left(running)
    assert running.server.stats.outcomes == {"completed": 4}


async def test_an_unknown_vendor_is_refused_with_a_clear_disconnect(nursery: trio.Nursery) -> None:
    running, alpha, beta = await serve_two(nursery)
    async with connect(running.port, api_key="open-key") as client:
        await client.open(media=[MONO_EXT], custom={"transcriptionVendor": "gamma"})
        await client.close(reason="disconnect")
    info = "transcriptionVendor 'gamma' is not enabled on this server; enabled: alpha, beta"
    assert [(m["type"], m["parameters"]) for m in client.received] == [
        ("disconnect", {"reason": "error", "info": info}),
        ("closed", {}),
    ]
    assert alpha.created == [] and beta.created == []
    await assert_nothing_left(running)
