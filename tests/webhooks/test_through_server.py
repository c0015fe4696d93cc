"""Webhooks from real calls: the server, its store and deliverer, and a receiver of our own on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import trio

from connector.store.records import PhraseRule, Subscription, WebhookAuth
from connector.testing.server import TEST_SECRET
from connector.testing.stored import StoredServer, start_stored_server
from tests.rawclient import connect, silence, tone

from .conftest import MakeReceiver
from .kit import settings
from .receiver import Receiver

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
EVERYTHING = frozenset({"conversation.started", "utterance.final", "conversation.ended", "phrase.detected"})


def speech(seconds: float = 0.6) -> np.ndarray:
    return np.concatenate([tone(seconds), silence(0.5)])


@pytest.fixture
async def receiver(receivers: MakeReceiver) -> Receiver:
    return await receivers(secret=SECRET)


@pytest.fixture
async def stored(tmp_path: Path, receiver: Receiver) -> AsyncIterator[StoredServer]:
    subscription = Subscription("config-all", receiver.url, EVERYTHING, datetime.now(UTC),
                                auth=WebhookAuth(signing_secret=SECRET), source="config")  # fmt: skip
    rule = PhraseRule("agent", "the agent's first words", datetime.now(UTC), phrases=("segment 0",),
                      roles=frozenset({"internal"}), source="config")  # fmt: skip
    async with trio.open_nursery() as nursery:
        yield await start_stored_server(
            nursery, f"sqlite:///{tmp_path}/store.db", subscriptions=[subscription], phrase_rules=[rule],
            webhooks=settings(allow_http=True),
        )  # fmt: skip
        nursery.cancel_scope.cancel()


def types(receiver: Receiver) -> list[str]:
    return [body["type"] for body in receiver.bodies()]


async def test_every_event_of_a_call_arrives_signed_in_order_with_what_genesys_got(
    stored: StoredServer, receiver: Receiver
) -> None:
    async with connect(stored.running.port, secret=TEST_SECRET) as client:
        await client.open()
        await client.audio(speech(), silence(1.1))
        await client.audio(silence(1.1), speech(0.8))
        await client.close()
    await receiver.until(lambda r: "conversation.ended" in types(r))
    assert types(receiver) == [
        "conversation.started", "utterance.final", "phrase.detected", "utterance.final", "conversation.ended"
    ]  # fmt: skip
    assert all(r.verified for r in receiver.received)  # Standard Webhooks signatures, checked by the library
    ids = receiver.ids()
    assert len(set(ids)) == len(ids)
    finals = [b["data"] for b in receiver.bodies() if b["type"] == "utterance.final"]
    sent = client.transcripts(final=True)
    assert [f["utteranceId"] for f in finals] == [t["id"] for t in sent]
    assert [(f["channel"], f["role"]) for f in finals] == [(0, "external"), (1, "internal")]
    phrase = next(b["data"] for b in receiver.bodies() if b["type"] == "phrase.detected")
    assert (phrase["ruleId"], phrase["text"], phrase["channel"], phrase["role"]) == ("agent", "segment 0", 1, "internal")
    assert phrase["offset"] == pytest.approx(1.1, abs=0.01)
    assert {b["data"]["conversationId"] for b in receiver.bodies()} == {client.conversation_id}


async def test_a_receiver_outage_loses_nothing(stored: StoredServer, receiver: Receiver) -> None:
    stored.deliverer.settings = replace(stored.deliverer.settings, retry_base=0.05, retry_max=0.2)
    await receiver.down()
    async with connect(stored.running.port, secret=TEST_SECRET) as client:
        await client.open()
        for _ in range(3):
            await client.audio(speech(), speech())
        await client.close()
    with trio.fail_after(10):
        await stored.store.writer.wait_idle()
    assert receiver.received == []
    await receiver.up()
    await receiver.until(lambda r: "conversation.ended" in types(r))
    finals = [b["data"]["utteranceId"] for b in receiver.bodies() if b["type"] == "utterance.final"]
    assert finals == [t["id"] for t in client.transcripts(final=True)]  # all six, in the order sent
