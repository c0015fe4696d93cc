"""The writer loop over the machine's outbox, on trio's virtual clock (autojump)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
import trio
import trio.testing

from connector.nursery import Sender
from connector.observe import SessionTally
from connector.protocol import Outbox, SessionMachine, Track
from connector.report import SessionReport
from connector.vocabulary import Hypothesis
from tests.protocol.machine_client import ORG, SID, Client, Policy


class Wire:
    def __init__(self) -> None:
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.arrived = trio.Event()

    async def send(self, text: str) -> None:
        self.messages.append((trio.current_time(), json.loads(text)))
        self.arrived.set()
        self.arrived = trio.Event()

    def types(self) -> list[str]:
        return [m["type"] for _, m in self.messages]

    async def until(self, count: int) -> None:
        with trio.fail_after(60):
            while len(self.messages) < count:
                await self.arrived.wait()


def session(rate: float, burst: float) -> tuple[SessionMachine, Client, SessionReport]:
    report = SessionReport()
    machine = SessionMachine(session_id=SID, organization_id=ORG, policy=Policy())
    machine.outbox = Outbox(SID, rate=rate, burst=burst, observer=SessionTally(report))
    client = Client(machine)
    client.open()  # ``opened`` (seq 1) taken out by the test client
    return machine, client, report


def said(utterance: int) -> Hypothesis:
    return Hypothesis(utterance, f"utterance {utterance}", True, 0.0, 1.0, 0.9)


async def test_events_are_paced_by_the_bucket_and_control_overtakes(autojump_clock: trio.testing.MockClock) -> None:
    machine, client, report = session(rate=5, burst=3)  # ``opened`` spent one token
    wire = Wire()
    sender = Sender(machine, wire.send, observer=SessionTally(report))
    track = Track(0, "en-US", "scripted")
    for i in range(6):
        machine.outbox.transcript(track, said(i), heard_at=0.0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender.run)
        await wire.until(3)
        client.receive("ping", {})  # the machine queues ``pong``; the runtime wakes the writer
        sender.wake()
        await wire.until(7)
        client.receive("close", {"reason": "end"})
        machine.transcription_stopped()  # the recognizers finished: ``closed`` is queued
        sender.wake()
        with trio.fail_after(10):
            await sender.finished.wait()
    assert wire.types() == ["event", "event", "event", "pong", "event", "event", "event", "closed"]
    event_times = [t for t, m in wire.messages if m["type"] == "event"]
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(event_times)]
    assert gaps[0] == 0 and gaps[1] == pytest.approx(0.2)  # a burst of 2, then one per 0.2 s
    assert all(g >= 0.2 - 1e-6 for g in gaps[1:])
    assert [m["seq"] for _, m in wire.messages] == list(range(2, 10))  # opened took seq 1
    assert report.transcription.finals == 6 and report.sender.events_sent == 6
    assert report.sender.bucket_delay_seconds > 0


async def test_429_holds_events_exactly_retry_after_but_not_pongs(autojump_clock: trio.testing.MockClock) -> None:
    machine, client, report = session(rate=100, burst=100)
    wire = Wire()
    sender = Sender(machine, wire.send, observer=SessionTally(report))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender.run)
        start = trio.current_time()
        machine.outbox.backoff(2.5, start)
        machine.outbox.transcript(Track(0, "en-US"), said(0))
        client.receive("ping", {})
        sender.wake()
        await wire.until(1)
        assert wire.types() == ["pong"] and wire.messages[0][0] == start
        await wire.until(2)
        nursery.cancel_scope.cancel()
    assert wire.types() == ["pong", "event"]
    assert wire.messages[1][0] - start == pytest.approx(2.5)
    assert report.sender.backoff_delay_seconds == pytest.approx(2.5)


async def test_a_client_that_stops_reading_ends_the_writer_after_send_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    machine, client, _ = session(rate=100, burst=100)

    async def stalled(text: str) -> None:
        await trio.sleep_forever()

    sender = Sender(machine, stalled, send_timeout=4.0)
    client.receive("ping", {})
    start = trio.current_time()
    with pytest.raises(trio.TooSlowError):
        await sender.run()
    assert trio.current_time() - start == pytest.approx(4.0)
