"""The sender: lanes, token bucket pacing, 429 back-off, partial superseding (autojump clock)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import trio
import trio.testing

from connector.nursery import Sender, TokenBucket
from connector.protocol import Lane, Send, ServerMessage, SessionMachine
from tests.protocol.test_session_machine import ORG, SID, Client, Policy


def entity(utterance: str, final: bool = True, text: str = "x") -> dict[str, Any]:
    return {"type": "transcript", "data": {"id": utterance, "isFinal": final, "text": text}}


class Wire:
    def __init__(self) -> None:
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.arrived = trio.Event()

    async def send(self, text: str) -> None:
        self.messages.append((trio.current_time(), json.loads(text)))
        self.arrived.set()

    def types(self) -> list[str]:
        return [m["type"] for _, m in self.messages]


def active_machine() -> SessionMachine:
    machine = SessionMachine(session_id=SID, organization_id=ORG, policy=Policy())
    client = Client(machine)
    client.open()  # stamps opened (seq 1) on the fake client side
    return machine


def test_token_bucket_delays_never_drops() -> None:
    bucket = TokenBucket(rate=5, burst=2)
    assert bucket.ready_at(0) == 0
    bucket.take(0)
    bucket.take(0)
    assert bucket.ready_at(0) == 0.2
    bucket.take(0)  # a control message may overdraw
    assert bucket.ready_at(0) == 0.4


async def test_events_are_paced_by_the_bucket_and_control_overtakes(autojump_clock: trio.testing.MockClock) -> None:
    wire = Wire()
    sender = Sender(active_machine(), wire.send, rate=5, burst=2)
    for i in range(6):
        sender.put_entity(entity(f"u{i}"))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender.run)
        while len(wire.messages) < 3:
            wire.arrived = trio.Event()
            await wire.arrived.wait()
        sender.put(Send(ServerMessage("pong", {}, clientseq=7)))
        while len(wire.messages) < 7:
            wire.arrived = trio.Event()
            await wire.arrived.wait()
        sender.put(Send(ServerMessage("closed", {}), Lane.LAST))
        with trio.fail_after(10):
            await sender.finished.wait()
    times = [t for t, _ in wire.messages]
    assert wire.types() == ["event", "event", "event", "pong", "event", "event", "event", "closed"]
    # burst of 2, then one event per 0.2 s; the pong went out without waiting for a token
    event_times = [t for t, m in wire.messages if m["type"] == "event"]
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(event_times)]
    assert gaps[0] == 0 and all(g >= 0.2 - 1e-6 for g in gaps[1:])
    assert [m["seq"] for _, m in wire.messages] == list(range(2, 10))  # opened took seq 1
    assert [m["parameters"]["entities"][0]["data"]["id"] for _, m in wire.messages if m["type"] == "event"] == [
        f"u{i}" for i in range(6)
    ]
    assert times[-1] >= times[-2]


async def test_429_holds_events_but_not_pongs(autojump_clock: trio.testing.MockClock) -> None:
    wire = Wire()
    sender = Sender(active_machine(), wire.send, rate=100, burst=100)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender.run)
        start = trio.current_time()
        sender.backoff(2.5)
        sender.put_entity(entity("a"))
        sender.put(Send(ServerMessage("pong", {}, clientseq=2)))
        wire.arrived = trio.Event()
        await wire.arrived.wait()
        assert wire.types() == ["pong"] and trio.current_time() - start < 0.01
        while len(wire.messages) < 2:
            wire.arrived = trio.Event()
            await wire.arrived.wait()
        nursery.cancel_scope.cancel()
    assert wire.types() == ["pong", "event"]
    assert wire.messages[1][0] - start >= 2.5
    assert sender.stats.backoff_delay_seconds >= 2.5
    assert sender.stats.backoffs == 1


async def test_final_supersedes_queued_partial_and_nothing_final_is_lost(
    autojump_clock: trio.testing.MockClock,
) -> None:
    wire = Wire()
    sender = Sender(active_machine(), wire.send, rate=1, burst=1)
    sender.put_entity(entity("other"))
    sender.put_entity(entity("u", final=False, text="hel"))
    sender.put_entity(entity("u", final=False, text="hello"))
    sender.put_entity(entity("u", final=True, text="hello there"))
    sender.put_entity(entity("v", final=True))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender.run)
        while len(wire.messages) < 3:
            wire.arrived = trio.Event()
            await wire.arrived.wait()
        nursery.cancel_scope.cancel()
    data = [m["parameters"]["entities"][0]["data"] for _, m in wire.messages]
    assert [(d["id"], d["isFinal"], d["text"]) for d in data] == [
        ("other", True, "x"),
        ("u", True, "hello there"),
        ("v", True, "x"),
    ]
    assert sender.stats.partials_superseded == 2


async def test_backlog_of_finals_is_batched_under_the_size_limit(autojump_clock: trio.testing.MockClock) -> None:
    wire = Wire()
    sender = Sender(active_machine(), wire.send, rate=1, burst=1, batch_threshold=3)
    for i in range(10):
        sender.put_entity(entity(f"u{i}"))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender.run)
        while sum(len(m["parameters"]["entities"]) for _, m in wire.messages) < 10:
            wire.arrived = trio.Event()
            await wire.arrived.wait()
        nursery.cancel_scope.cancel()
    ids = [e["data"]["id"] for _, m in wire.messages for e in m["parameters"]["entities"]]
    assert ids == [f"u{i}" for i in range(10)]  # all delivered, in order
    assert len(wire.messages) < 10
    assert sender.stats.batched_events >= 1
