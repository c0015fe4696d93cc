"""The simulator judges every server message with the referee, and times out like the reference client.

Each violation is recorded in the ``CallResult`` and answered on the wire with the reference
client's ``error`` code. Timed logic runs on ``autojump_clock``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio

from connector.simulator import (
    run_call,
)
from tests.simulator.fake_server import (
    Conn,
    FakeServer,
    config,
    source,
    transcript_entity,
)

# ---------------------------------------------------------------------------------------------
# strict validation of server messages


async def test_seq_gap_is_a_fatal_protocol_error(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    async def hook(conn: Conn, msg: dict[str, Any]) -> bool:
        if msg["type"] == "ping" and msg["seq"] == 2:
            conn.seq += 1  # skip one, once
        return False

    fake.hook = hook
    result = await run_call(config(fake), source(3.0))
    assert not result.ok
    assert [(e.code, e.fatal) for e in result.protocol_errors] == [(500, True)]
    assert "serverseq=1" in result.protocol_errors[0].message
    errors = fake.texts("error")
    assert [e["parameters"]["code"] for e in errors] == [500]
    assert result.close_reason == "error" and fake.texts("close")[0]["parameters"]["reason"] == "error"
    assert result.closed  # the server still answered close; the later seqs were fine again
    assert fake.types().index("error") < fake.types().index("close")


async def _opened_then(conn: Conn, msg: dict[str, Any], action: Callable[[Conn], Awaitable[None]]) -> bool:
    if msg["type"] != "open":
        return False
    await conn.send("opened", {"media": [msg["parameters"]["media"][0]]})
    await action(conn)
    return True


VIOLATIONS: dict[str, tuple[Callable[[Conn], Awaitable[None]], int]] = {
    "id mismatch": (lambda c: c.send("pong", id=str(uuid.uuid4())), 400),
    "no parameters": (lambda c: c.send("updated", parameters=None), 400),
    "no clientseq": (lambda c: c.send("updated", clientseq=None), 400),
    "wrong version": (lambda c: c.send("updated", version="1"), 400),
    "string seq": (lambda c: c.send("updated", seq="2"), 400),
    "binary frame": (lambda c: c.send_raw(b"\x00" * 160), 415),
    "too large": (lambda c: c.send("updated", {"pad": "x" * 70_000}), 413),
    "not json": (lambda c: c.send_raw("{not json"), 400),
    "unknown type": (lambda c: c.send("surprise"), 500),
    "bad disconnect reason": (lambda c: c.send("disconnect", {"reason": "bored"}), 500),
    "opened twice": (lambda c: c.send("opened", {"media": []}), 409),
    "closed unasked": (lambda c: c.send("closed"), 409),
}


@pytest.mark.parametrize("name", list(VIOLATIONS))
async def test_malformed_server_messages_are_caught(
    fake: FakeServer, autojump_clock: trio.abc.Clock, name: str
) -> None:
    action, code = VIOLATIONS[name]

    async def hook(conn: Conn, msg: dict[str, Any]) -> bool:
        return await _opened_then(conn, msg, action)

    fake.hook = hook
    result = await run_call(config(fake), source(3.0))
    assert result.protocol_errors, name
    first = result.protocol_errors[0]
    assert (first.code, first.fatal) == (code, True), first
    assert fake.texts("error")[0]["parameters"]["code"] == code
    assert result.close_reason == "error"
    assert not result.ok


@pytest.mark.parametrize(
    ("media", "message"),
    [
        (lambda offers: offers[:2], "More than one media"),
        (lambda offers: [{**offers[0], "format": "L16"}], "not one of the offered"),
        (lambda offers: [{**offers[0], "channels": ["internal", "external"]}], "not one of the offered"),
    ],
)
async def test_bad_media_selection_is_rejected(
    fake: FakeServer, autojump_clock: trio.abc.Clock, media: Any, message: str
) -> None:
    fake.pick = media
    result = await run_call(config(fake), source(2.0))
    assert result.protocol_errors[0].code == 400 and message in result.protocol_errors[0].message
    assert fake.audio() == b""  # nothing streamed on a media the client did not offer
    assert result.close_reason == "error"


async def test_pong_with_wrong_clientseq_is_reported_but_not_fatal(
    fake: FakeServer, autojump_clock: trio.abc.Clock
) -> None:
    async def hook(conn: Conn, msg: dict[str, Any]) -> bool:
        if msg["type"] == "ping":
            await conn.send("pong", clientseq=msg["seq"] - 1)
            return True
        return False

    fake.hook = hook
    result = await run_call(config(fake), source(3.0))
    assert [(e.code, e.fatal) for e in result.protocol_errors] == [(400, False)]
    assert [e["parameters"]["code"] for e in fake.texts("error")] == [400]
    assert result.close_reason == "end" and result.closed
    assert result.pong_latencies == []


async def test_invalid_transcript_is_recorded(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    async def on_audio(conn: Conn, total: int) -> None:
        if total == 1600:
            bad = transcript_entity(0.1)
            bad["data"]["alternatives"][0]["confidence"] = 1.5
            await conn.send("event", {"entities": [bad, transcript_entity(0.2, channel=1)]})

    fake.on_audio = on_audio
    fake.pick = lambda offers: [offers[1]]  # mono external: channelId 1 does not exist
    result = await run_call(config(fake), source(1.0))
    messages = [e.message for e in result.protocol_errors]
    assert any("confidence 1.5" in m for m in messages)
    assert any("channelId 1" in m for m in messages)
    assert all(e.code is None and not e.fatal for e in result.protocol_errors)
    assert fake.texts("error") == []  # the reference client does not answer these
    assert result.closed and result.close_reason == "end" and not result.ok


# ---------------------------------------------------------------------------------------------
# timeouts


async def test_open_timeout(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    fake.answer_open = False
    start = trio.current_time()
    result = await run_call(config(fake), source(3.0))
    assert result.timeouts == ["open"] and not result.opened
    assert fake.texts("error")[0]["parameters"] == {"code": 408, "message": "Open transaction timeout"}
    assert fake.texts("error")[0]["seq"] == 2
    assert result.close_reason == "error" and result.closed
    assert fake.audio() == b""
    assert result.ended_at - start == pytest.approx(5.0, abs=0.01)


async def test_close_timeout(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    fake.answer_close = False
    result = await run_call(config(fake), source(0.5))
    assert result.timeouts == ["close"] and not result.closed and not result.ok
    assert fake.types()[-2:] == ["close", "error"]
    assert fake.texts("error")[0]["parameters"]["code"] == 408


async def test_pong_timeout(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    fake.answer_ping = False
    result = await run_call(config(fake), source(10.0))
    assert result.timeouts == ["pong"]
    assert fake.texts("error")[0]["parameters"]["code"] == 408
    assert result.close_reason == "error"
    assert fake.texts("close")[0]["position"] == "PT6S"  # first ping at 1 s, next due at 6 s
