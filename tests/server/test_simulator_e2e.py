"""The simulator (our independent-quality client) against the real server."""

from __future__ import annotations

import numpy as np

from connector.simulator import AudioSource, CallConfig, PauseAt, UpdateAt, run_call, run_load
from connector.testing.server import TEST_SECRET, RunningServer, assert_nothing_left
from tests.rawclient import silence, tone


def call_audio() -> AudioSource:
    external = np.concatenate([silence(0.3), tone(0.6), silence(0.6), tone(0.4), silence(0.6)])
    internal = np.concatenate([silence(1.0), tone(0.5), silence(1.0)])
    return AudioSource.from_pcm(external, internal)


async def test_simulated_call_round_trip(running: RunningServer) -> None:
    config = CallConfig(
        url=f"ws://127.0.0.1:{running.port}/audiohook",
        api_key="test-key",
        client_secret=TEST_SECRET,
        speed=0,
        frame_ms=20,
        supported_languages=True,
        injections=(PauseAt(at=1.95, duration=0.5), UpdateAt(at=2.2, language="es-ES")),
    )
    result = await run_call(config, call_audio())
    assert result.ok, (result.error, result.protocol_errors, result.timeouts)
    assert result.opened_params is not None and result.opened_params["supportedLanguages"]
    finals = sorted((t.channel_id, round(t.offset, 3)) for t in result.finals)
    assert finals == [(0, 0.3), (0, 1.5), (1, 1.0)]
    await assert_nothing_left(running)


async def test_concurrent_simulated_calls(running: RunningServer) -> None:
    config = CallConfig(
        url=f"ws://127.0.0.1:{running.port}/audiohook", api_key="test-key", client_secret=TEST_SECRET, speed=0
    )
    load = await run_load(config, sessions=12, audio=call_audio())
    assert load.completed == 12 and load.failed == 0
    assert all(len(r.finals) == 3 for r in load.results)
    await assert_nothing_left(running)
    assert running.server.stats.outcomes == {"completed": 12}


async def test_simulated_probe(running: RunningServer) -> None:
    config = CallConfig(
        url=f"ws://127.0.0.1:{running.port}/audiohook", api_key="test-key", client_secret=TEST_SECRET, probe=True
    )
    result = await run_call(config)
    assert result.ok and result.transcripts == []
    await running.idle()
    assert running.server.stats.outcomes == {"probe": 1}
    assert running.engine.created == []
