"""Pauses (server and client), discards, updates, errors and disconnects, seen on both sides.

Timed logic runs on ``autojump_clock``.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from connector.simulator import (
    DiscardAt,
    ErrorAt,
    PauseAt,
    UpdateAt,
    run_call,
)
from connector.vocabulary import SAMPLE_RATE
from tests.simulator.fake_server import (
    BYTES_PER_SECOND_STEREO,
    Conn,
    FakeServer,
    config,
    source,
)

# ---------------------------------------------------------------------------------------------
# pauses, discards and other injected events


@pytest.mark.parametrize(("mode", "discarded", "audio_seconds"), [("advance", "PT2S", 1.0), ("freeze", "PT0S", 3.0)])
async def test_start_paused_until_server_resumes(
    fake: FakeServer, autojump_clock: trio.abc.Clock, mode: str, discarded: str, audio_seconds: float
) -> None:
    fake.opened_extra = {"startPaused": True}

    async def hook(conn: Conn, msg: dict[str, Any]) -> bool:
        if msg["type"] == "paused":
            async def resume_later() -> None:
                await trio.sleep(2.0)
                await conn.send("resume")

            conn.nursery.start_soon(resume_later)
        return False

    fake.hook = hook
    result = await run_call(config(fake, pause_mode=mode), source(3.0))
    assert result.ok
    assert [t for t in fake.types() if t != "ping"][:3] == ["open", "paused", "resumed"]
    resumed = fake.texts("resumed")[0]
    assert resumed["parameters"] == {"start": "PT0S", "discarded": discarded}
    assert fake.audio_between("open", "resumed") == 0
    assert len(fake.audio()) == audio_seconds * BYTES_PER_SECOND_STEREO
    assert fake.texts("close")[0]["position"] == "PT3S"


async def test_server_pause_mid_stream(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    async def on_audio(conn: Conn, total: int) -> None:
        if total == BYTES_PER_SECOND_STEREO:
            await conn.send("pause")

    async def hook(conn: Conn, msg: dict[str, Any]) -> bool:
        if msg["type"] == "paused":
            async def resume_later() -> None:
                await trio.sleep(1.5)
                await conn.send("resume")

            conn.nursery.start_soon(resume_later)
        return False

    fake.on_audio, fake.hook = on_audio, hook
    result = await run_call(config(fake), source(4.0))
    assert result.ok
    paused = fake.texts("paused")[0]
    resumed = fake.texts("resumed")[0]
    assert fake.audio_between("paused", "resumed") == 0
    start = float(resumed["parameters"]["start"][2:-1])
    assert start == float(paused["position"][2:-1]) and 1.0 <= start <= 1.1
    assert resumed["parameters"]["discarded"] == "PT1.5S"
    sent = len(fake.audio()) / BYTES_PER_SECOND_STEREO
    assert sent == pytest.approx(4.0 - 1.5)
    assert fake.texts("close")[0]["position"] == "PT4S"


@pytest.mark.parametrize("mode", ["advance", "freeze"])
async def test_client_pause_injection(fake: FakeServer, autojump_clock: trio.abc.Clock, mode: str) -> None:
    start = trio.current_time()
    result = await run_call(config(fake, pause_mode=mode, injections=(PauseAt(1.0, 2.0),)), source(5.0))
    assert result.ok
    paused, resumed = fake.texts("paused")[0], fake.texts("resumed")[0]
    assert paused["position"] == "PT1S"
    assert fake.audio_between("paused", "resumed") == 0
    close = fake.texts("close")[0]
    assert close["position"] == "PT5S"
    elapsed = fake.log[-1][0] - start
    if mode == "advance":  # a live call: the paused 2 s are lost, the call still lasts 5 s
        assert resumed["parameters"] == {"start": "PT1S", "discarded": "PT2S"}
        assert resumed["position"] == "PT3S"
        assert len(fake.audio()) == 3 * BYTES_PER_SECOND_STEREO
        assert result.frame_starts[10] == 3 * SAMPLE_RATE
        assert result.sent_at(2.0) is None
        assert elapsed == pytest.approx(5.0, abs=0.01)
    else:  # the WAV source: nothing lost, the call takes 2 s longer
        assert resumed["parameters"] == {"start": "PT1S", "discarded": "PT0S"}
        assert len(fake.audio()) == 5 * BYTES_PER_SECOND_STEREO
        assert elapsed == pytest.approx(7.0, abs=0.01)


async def test_discard_update_and_error_injections(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    async def hook(conn: Conn, msg: dict[str, Any]) -> bool:
        if msg["type"] == "update":
            await conn.send("updated")
            return True
        return False

    fake.hook = hook
    injections = (DiscardAt(1.0, 0.5), UpdateAt(0.55, "fr-CA"), ErrorAt(2.0, 429, "slow down", retry_after=2.5))
    result = await run_call(config(fake, injections=injections), source(3.0))
    assert result.ok and result.updated_received == 1
    update = fake.texts("update")[0]
    assert update["parameters"] == {"language": "fr-CA"} and update["position"] == "PT0.55S"
    discarded = fake.texts("discarded")[0]
    assert discarded["parameters"] == {"start": "PT1S", "discarded": "PT0.5S"}
    assert discarded["position"] == "PT1.5S"
    error = fake.texts("error")[0]
    assert error["parameters"] == {"code": 429, "message": "slow down", "retryAfter": "PT2.5S"}
    assert error["position"] == "PT2S"
    assert len(fake.audio()) == 2.5 * BYTES_PER_SECOND_STEREO
    assert result.sent_at(1.2) is None and result.sent_at(1.6) is not None
    assert fake.texts("close")[0]["position"] == "PT3S"


async def test_discard_to_in_opened(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    fake.opened_extra = {"discardTo": "PT1.2S"}
    result = await run_call(config(fake), source(3.0))
    assert result.ok
    assert fake.types()[:2] == ["open", "discarded"]
    assert fake.texts("discarded")[0]["parameters"] == {"start": "PT0S", "discarded": "PT1.2S"}
    assert len(fake.audio()) == 1.8 * BYTES_PER_SECOND_STEREO


async def test_server_disconnect(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    async def on_audio(conn: Conn, total: int) -> None:
        if total == 3200:
            await conn.send("disconnect", {"reason": "completed", "info": "done"})

    fake.on_audio = on_audio
    result = await run_call(config(fake), source(10.0))
    assert result.ok
    assert (result.disconnect_reason, result.disconnect_info) == ("completed", "done")
    assert result.close_reason == "disconnect"
    assert fake.texts("close")[0]["parameters"] == {"reason": "disconnect"}
    assert len(fake.audio()) == 3200


async def test_stop_event_ends_the_stream(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    stop = trio.Event()

    async def stopper() -> None:
        await trio.sleep(1.55)
        stop.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(stopper)
        result = await run_call(config(fake), source(10.0), stop=stop)
    assert result.ok and fake.texts("close")[0]["position"] == "PT1.5S"
