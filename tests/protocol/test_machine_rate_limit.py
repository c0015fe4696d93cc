"""The machine under a client's rate limit: 429's default wait, and a backlog that grew too long."""

from __future__ import annotations

import json

from connector.protocol import Backoff, Outbox, SessionMachine, StopTranscription, Track
from connector.vocabulary import Hypothesis
from tests.protocol.machine_client import ORG, SID, Client, Policy


def test_a_429_without_retry_after_waits_one_second(client: Client) -> None:
    client.open()
    assert client.text("error", {"code": 429, "message": "slow down"}) == [Backoff(1.0)]
    assert client.text("error", {"code": 429, "message": "again", "retryAfter": "PT0.25S"}) == [Backoff(0.25)]


def test_a_backlog_held_too_long_by_429s_ends_the_call_and_close_flushes_every_final() -> None:
    machine = SessionMachine(session_id=SID, organization_id=ORG, policy=Policy())
    machine.outbox = Outbox(SID, max_queued=10)
    client = Client(machine)
    client.open()
    machine.outbox.backoff(30.0, now=0.0)
    track = Track(0, "en-US")
    effects = []
    for i in range(11):
        effects = machine.transcript(track, Hypothesis(i, f"final {i}", True, float(i), 0.5, 0.9), None)
        if i < 10:
            assert effects == []
    assert StopTranscription(then_closed=False) in effects and machine.disconnect_reason == "error"
    disconnect = json.loads(machine.outbox.next(0.0, machine.last_client_seq).text)  # type: ignore[union-attr]
    assert disconnect["type"] == "disconnect" and "Rate limited" in disconnect["parameters"]["info"]
    assert machine.transcript(track, Hypothesis(11, "after", True, 11.0, 0.5, 0.9), None) == []  # asked once
    assert client.receive("close", {"reason": "disconnect"})[-1] == StopTranscription(then_closed=True)
    machine.transcription_stopped()  # the runtime: every recognizer has ended, so ``closed`` is queued
    sent = []
    now = 0.0
    while (item := machine.next_message(now)) is not None:
        if isinstance(item, float):
            now = item
            continue
        sent.append(json.loads(item.text))
    assert now <= 3.0  # the closing cap, not the 30 s back-off
    finals = [e["data"] for m in sent if m["type"] == "event" for e in m["parameters"]["entities"]]
    assert [f["alternatives"][0]["interpretations"][0]["transcript"] for f in finals] == [
        f"final {i}" for i in range(11)
    ] + ["after"]
    assert sent[-1]["type"] == "closed"
