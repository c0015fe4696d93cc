"""Webhooks from real calls: the server, its store and deliverer, and a receiver of our own on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import trio

from connector.redaction import Mode
from connector.store.records import PhraseRule, Subscription, WebhookAuth
from connector.testing.scripted_engine import ScriptedEngine, ScriptedOptions
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
    assert (phrase["ruleId"], phrase["text"]) == ("agent", "segment 0")
    assert (phrase["channel"], phrase["role"]) == (1, "internal")
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


PII = ("my card number is 4111 1111 1111 1111", "and my pin is one two three four")


async def _pii_call(tmp_path: Path, receiver: Receiver, redaction: Mode, options: dict[str, str] | None = None
                    ) -> tuple[list[dict[str, object]], list[dict[str, object]], list[dict[str, object]]]:  # fmt: skip
    """A call whose customer reads out a card number and a PIN: (what Genesys got, what the store
    keeps, what the webhook received)."""
    subscription = Subscription("config-finals", receiver.url, frozenset({"utterance.final"}), datetime.now(UTC),
                                source="config")  # fmt: skip
    engine = ScriptedEngine(options=ScriptedOptions(script=PII))
    async with trio.open_nursery() as nursery:
        stored = await start_stored_server(nursery, f"sqlite:///{tmp_path}/{redaction}.db", engine,
                                           subscriptions=[subscription], redaction=redaction)
        async with connect(stored.running.port, secret=TEST_SECRET) as client:
            await client.open(custom=options)
            await client.audio(speech(2.0), silence(2.5))
            await client.audio(speech(2.0), silence(2.5))
            await client.close()
        await receiver.until(lambda r: len(r.bodies()) >= 2)
        with trio.fail_after(10):
            await stored.store.writer.wait_idle()
        conversation = await trio.to_thread.run_sync(stored.store.database.conversation, client.conversation_id)
        nursery.cancel_scope.cancel()
    assert conversation is not None
    kept = [{"text": u.text, "words": [w.value for w in u.words]} for u in conversation.utterances]
    sent = [{"text": t["alternatives"][0]["interpretations"][0]["transcript"]} for t in client.transcripts(final=True)]
    return sent, kept, [b["data"] for b in receiver.bodies()]


REDACTED = ["my card number is [card]", "and my pin is [pin]"]


async def test_redaction_is_on_by_default_for_the_store_and_webhooks_only(
    tmp_path: Path, receivers: MakeReceiver
) -> None:
    sent, kept, delivered = await _pii_call(tmp_path, await receivers(), "stored")
    assert [s["text"] for s in sent] == list(PII)  # Genesys gets what was said
    assert [k["text"] for k in kept] == REDACTED
    assert kept[0]["words"] == ["my", "card", "number", "is", "[card]"]  # one marker word, timings kept
    assert [d["text"] for d in delivered] == REDACTED


async def test_redaction_all_covers_genesys_and_a_call_may_turn_it_off(tmp_path: Path, receivers: MakeReceiver) -> None:
    sent, kept, delivered = await _pii_call(tmp_path, await receivers(), "all")
    assert [s["text"] for s in sent] == REDACTED and [k["text"] for k in kept] == REDACTED
    sent, kept, delivered = await _pii_call(tmp_path, await receivers(), "stored", {"redaction": "off"})
    assert [k["text"] for k in kept] == list(PII) and [d["text"] for d in delivered] == list(PII)


async def test_a_call_asking_for_an_unknown_redaction_mode_is_refused_with_the_reason(stored: StoredServer) -> None:
    async with connect(stored.running.port, secret=TEST_SECRET) as client:
        answer = await client.open(custom={"redaction": "sometimes"})
        await client.close()
    assert answer["type"] == "disconnect" and answer["parameters"]["reason"] == "error"
    assert "customConfig.redaction" in answer["parameters"]["info"]


async def test_every_body_matches_the_documented_json_schema(stored: StoredServer, receiver: Receiver) -> None:
    schema = json.loads((Path(__file__).parents[2] / "docs" / "webhook-event.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    async with connect(stored.running.port, secret=TEST_SECRET) as client:
        await client.open()
        await client.audio(speech(), speech(0.8))
        await client.close()
    await receiver.until(lambda r: "conversation.ended" in types(r))
    assert {"conversation.started", "utterance.final", "phrase.detected", "conversation.ended"} <= set(types(receiver))
    for body in receiver.bodies():
        errors = [error.message for error in validator.iter_errors(body)]
        assert errors == [], (body["type"], errors)
