"""What the reference-client scenarios share: the compressed clock, the suite's WAV, starting a client.

Media and ping clocks run 20x faster than real time (:data:`FAST`); the open, close and pong
deadlines stay real because they measure the server (:class:`~tests.conformance.refsession.Timing`).

The suite's transcript tests stream an 11 s WAV that is not available here. :func:`suite_wav`
reproduces its timing: tone bursts exactly where the suite's table (``test/test-data.ts``)
expects utterances, so the suite's own count and offset/duration checks apply unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import trio

from connector.simulator.referee import TRANSCRIPT_INFO, common_validations
from connector.testing.scripted_engine import ScriptedEngine, ScriptedOptions
from connector.testing.server import RunningServer, StartServer
from tests.conformance.refclient import ReferenceClient, Timing
from tests.conformance.refmedia import PcmSource, ToneSource
from tests.rawclient import silence, tone

__all__ = ["FAST", "assert_closed_cleanly", "run_suite_wav", "start", "suite_wav", "transcript_server"]

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
