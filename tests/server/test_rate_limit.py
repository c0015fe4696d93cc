"""A client's 429s through the whole server stack, over memory streams on trio's virtual clock.

The protocol defines the wait (``retryAfter``), so these bounds are exact, not "at least".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import numpy as np
import pytest
import trio
import trio.testing

from connector.asr import EngineRegistry
from connector.config import Settings
from connector.limits import SessionLimits
from connector.protocol import MAX_BACKOFF
from connector.security import ApiKey
from connector.server import ConnectorServer
from connector.testing.scripted_engine import ScriptedEngine
from connector.testing.server import live_connector_tasks
from tests.rawclient import MONO_EXT, RawClient, connect_in_memory, silence, tone

EXACT = 1e-6


@asynccontextmanager
async def served(limits: SessionLimits | None = None) -> AsyncIterator[RawClient]:
    settings = Settings(
        api_keys=(ApiKey("open-key", None),),
        engines=("scripted",),
        default_engine="scripted",
        limits=limits or SessionLimits(),
    )
    server = ConnectorServer(settings, EngineRegistry([ScriptedEngine()], "scripted"))
    async with connect_in_memory(server, "open-key") as client:
        yield client
    assert live_connector_tasks() == []


def utterances(count: int) -> np.ndarray:
    return np.concatenate([np.concatenate([silence(0.2), tone(0.3), silence(0.4)]) for _ in range(count)])


@pytest.mark.parametrize(
    ("retry_after", "wait"), [(None, 1.0), ("PT2.5S", 2.5), ("PT3600S", MAX_BACKOFF)], ids=["default", "given", "huge"]
)
async def test_events_wait_exactly_retry_after(
    autojump_clock: trio.testing.MockClock, retry_after: str | None, wait: float
) -> None:
    async with served() as client:
        await client.open(media=[MONO_EXT])
        error = {"code": 429, "message": "slow down"} | ({"retryAfter": retry_after} if retry_after else {})
        await client.send("error", error)
        limited_at = trio.current_time()
        await client.audio(utterances(2))  # the finals exist at once; they wait for the 429
        seq = await client.send("ping")
        pong = await client.expect("pong")
        assert pong["clientseq"] == seq and trio.current_time() == limited_at  # control is not held back
        await client.expect("event", limit=MAX_BACKOFF + 1)
        assert trio.current_time() - limited_at == pytest.approx(wait, abs=EXACT)
        await client.close()
    assert [f["offset"] for f in client.transcripts(final=True)] == ["PT0.2S", "PT1.1S"]  # every final, in order


async def test_a_second_429_extends_the_wait_from_when_it_arrived(autojump_clock: trio.testing.MockClock) -> None:
    async with served() as client:
        await client.open(media=[MONO_EXT])
        await client.send("error", {"code": 429, "message": "slow down", "retryAfter": "PT2S"})
        first_at = trio.current_time()
        await client.audio(utterances(1))
        await trio.sleep(1.5)  # virtual time passes (the clock jumps); nothing is synchronised by it
        await client.send("error", {"code": 429, "message": "still", "retryAfter": "PT2S"})
        await client.expect("event")
        assert trio.current_time() - first_at == pytest.approx(3.5, abs=EXACT)
        await client.close()


async def test_a_client_that_holds_events_too_long_is_asked_to_end_and_no_final_is_lost(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with served(SessionLimits(max_queued_events=5)) as client:
        await client.open(media=[MONO_EXT])
        await client.send("error", {"code": 429, "message": "slow down", "retryAfter": "PT60S"})
        await client.audio(utterances(7))
        disconnect = await client.expect("disconnect")
        assert disconnect["parameters"]["reason"] == "error"
        assert "Rate limited" in disconnect["parameters"]["info"]
        asked_at = trio.current_time()
        events = await client.close()  # every final, then ``closed``
        assert trio.current_time() - asked_at <= 3.0 + EXACT  # the closing cap, not the 60 s back-off
    # The sixth waiting final (past max_queued_events=5) asked for the end; transcription stopped
    # there, so the seventh utterance was never recognised. Every final that was made arrived.
    finals = client.transcripts(final=True)
    assert [f["offset"] for f in finals] == ["PT0.2S", "PT1.1S", "PT2S", "PT2.9S", "PT3.8S", "PT4.7S"]
    assert sum(len(event["parameters"]["entities"]) for event in events) == 6  # all after ``close``
