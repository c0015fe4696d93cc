"""SIGKILL while deliveries are pending: after a restart on the same store every final is delivered,
in order, and every repeat of a delivery carries the same webhook-id."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx2
import numpy as np
import trio

from connector.testing.server import TEST_SECRET
from connector.testing.stored import API_TOKEN
from tests.rawclient import connect, silence, tone
from tests.served_process import serving

from .conftest import MakeReceiver
from .receiver import Reply

SCRIPTED = {
    "CONNECTOR_ENGINES": "connector.testing.scripted_engine:create_engine",
    "CONNECTOR_DEFAULT_ENGINE": "scripted",
    "CONNECTOR_DRAIN_TIMEOUT": "2",
    "CONNECTOR_WEBHOOK_RETRY_BASE": "0.05",
    "CONNECTOR_WEBHOOK_RETRY_MAX": "0.2",
    # A delivery in flight when its replica died is taken over once its lease ends (60 s by default).
    "CONNECTOR_WEBHOOK_TIMEOUT": "1",
    "CONNECTOR_WEBHOOK_LEASE": "3",
}


async def committed(api_port: int, conversation_id: str, count: int) -> None:
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", headers=headers, timeout=10) as api:
        with trio.fail_after(15):
            while True:
                answer = await api.get(f"/v1/conversations/{conversation_id}")
                if answer.status_code == 200 and len(answer.json()["utterances"]) >= count:
                    return
                await trio.sleep(0.05)  # another process's store: asked again, not awaited


def speech() -> np.ndarray:
    return np.concatenate([tone(0.6), silence(0.5)])


async def test_deliveries_pending_at_sigkill_are_delivered_after_a_restart(
    tmp_path: Path, receivers: MakeReceiver
) -> None:
    receiver = await receivers()
    receiver.default = Reply(500)  # the receiver fails: everything stays pending
    hooks = [{"id": "crm", "url": receiver.url, "events": ["utterance.final", "conversation.started"]}]
    env = {**SCRIPTED, "CONNECTOR_STORE_URL": f"sqlite:///{tmp_path}/store.db", "CONNECTOR_WEBHOOKS": json.dumps(hooks)}
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    async with serving(tmp_path / "first", env, api=True) as first, connect(first.port, secret=TEST_SECRET) as client:
        await client.open()
        await client.audio(speech(), speech())
        await client.audio(speech(), speech())
        with trio.fail_after(10):
            while len(client.transcripts(final=True)) < 4:
                await client.next()
        # Genesys has the four finals; the receiver keeps refusing the conversation's first event,
        # which holds the finals behind it (one conversation's deliveries go in order).
        await receiver.until(lambda r: len(r.received) >= 2)
        # Genesys gets a final before the store commits it (and its deliveries); what the promise
        # covers is what was committed: kill once the four are (the other process is asked again).
        await committed(first.api_port, client.conversation_id, 4)
        first.process.send_signal(signal.SIGKILL)
        with trio.fail_after(10):
            await first.process.wait()
    sent = [t["id"] for t in client.transcripts(final=True)]
    receiver.default = Reply(200)
    async with serving(tmp_path / "second", env) as second:
        await receiver.until(
            lambda r: len([b for b in r.bodies() if b["type"] == "utterance.final"]) >= len(sent), within=20
        )
        second.process.send_signal(signal.SIGTERM)
    delivered = [b["data"]["utteranceId"] for b in receiver.bodies() if b["type"] == "utterance.final"]
    assert delivered == sent  # every final, once accepted, in the order sent
    webhook_ids: dict[str, set[str | None]] = {}
    for request in receiver.received:
        body = request.json
        key = body["data"].get("utteranceId") or body["type"]
        webhook_ids.setdefault(key, set()).add(request.id)
    assert all(len(ids) == 1 for ids in webhook_ids.values())  # repeats carry the same id
    started = [r for r in receiver.received if r.json["type"] == "conversation.started"]
    assert [r.status for r in started][:2] == [500, 500] and started[-1].status == 200  # repeated across the kill
