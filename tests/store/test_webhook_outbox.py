"""The outbox's writes: deliveries queued with the utterances in one transaction, once per id;
PostgreSQL notifies deliverers and config listeners; old finished deliveries are purged."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from connector.store import Database
from connector.store.database import CONFIG_CHANNEL, WEBHOOK_CHANNEL
from connector.store.schema import utterances, webhook_deliveries

from .kit import PARIS, at, delivery, phrase_rule, session, subscription, utterance


def _count(db: Database, table: Any) -> int:
    with db.engine.connect() as connection:
        count: int = connection.execute(select(func.count()).select_from(table)).scalar_one()
        return count


def test_round_trip_of_every_field(db: Database) -> None:
    plain = delivery("d1")
    worn = delivery(
        "d2",
        "sub-2",
        "c2",
        event="phrase.detected",
        payload={"type": "phrase.detected", "data": {"nested": {"list": [1, "two", None, True]}, "n": 1.5}},
        created_at=at(20).astimezone(PARIS),
        next_attempt_at=at(40),
        sequence=12345,  # ignored: the store assigns it
        attempts=3,
        status="dead",
        last_error="HTTP 500: boom",
        delivered_at=None,
    )
    done = delivery("d3", status="delivered", attempts=1, delivered_at=at(14))
    db.write([], [], [plain, worn, done])
    stored = [db.delivery(d) for d in ("d1", "d2", "d3")]
    assert all(s is not None for s in stored)
    sequences = [s.sequence for s in stored if s is not None]
    assert sequences == sorted(sequences) and len(set(sequences)) == 3 and sequences[0] >= 1
    assert stored == [replace(r, sequence=n) for r, n in zip((plain, worn, done), sequences, strict=True)]
    assert stored[1] is not None and stored[1].created_at.tzinfo is not None
    assert db.delivery("nope") is None
    assert db.pending_count() == 1


def test_deliveries_are_queued_with_the_utterances_once(db: Database) -> None:
    batch = [delivery("d1"), delivery("d2"), delivery("d1", event="duplicate: the first stays")]
    db.write([session()], [utterance("u1")], batch)
    db.write([session()], [utterance("u1")], batch)  # a retried batch
    db.write([], [], [delivery("d2"), delivery("d3")])
    assert _count(db, webhook_deliveries) == 3
    first, second, third = (db.delivery(d) for d in ("d1", "d2", "d3"))
    assert first is not None and second is not None and third is not None
    assert first.event == "utterance.final"
    assert first.sequence < second.sequence < third.sequence  # in the order given
    assert db.pending_count() == 3


def test_a_failing_write_queues_no_delivery(db: Database) -> None:
    orphan = utterance("u1", session_id="no-such-session")
    with pytest.raises(IntegrityError):
        db.write([], [orphan], [delivery("d1")])
    assert _count(db, webhook_deliveries) == 0


def test_deliveries_inserted_then_rolled_back_with_the_transaction(db: Database) -> None:
    """The failure comes after the deliveries' INSERT ran: they go with the rest."""

    def fail_after_deliveries(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO WEBHOOK_DELIVERIES"):
            raise RuntimeError("killed after the deliveries' insert")

    event.listen(db.engine, "after_cursor_execute", fail_after_deliveries)
    try:
        with pytest.raises(RuntimeError, match="killed"):
            db.write([session()], [utterance("u1")], [delivery("d1"), delivery("d2")])
    finally:
        event.remove(db.engine, "after_cursor_execute", fail_after_deliveries)
    assert _count(db, webhook_deliveries) == 0
    assert _count(db, utterances) == 0
    assert db.conversation("c1") is None
    db.write([session()], [utterance("u1")], [delivery("d1"), delivery("d2")])  # the retry
    assert _count(db, webhook_deliveries) == 2


def test_purge_removes_old_delivered_and_dead_deliveries_only(db: Database) -> None:
    db.write(
        [],
        [],
        [
            delivery("old-delivered", conversation_id="c1", created_at=at(10), status="delivered", delivered_at=at(11)),
            delivery("old-dead", conversation_id="c2", created_at=at(10), status="dead", last_error="gone"),
            delivery("old-pending", conversation_id="c3", created_at=at(10)),
            delivery("new-delivered", conversation_id="c4", created_at=at(2000), status="delivered"),
            delivery("new-dead", conversation_id="c5", created_at=at(2000), status="dead"),
        ],
    )
    assert db.purge(before=at(1000), chunk_size=1) == 2
    kept = {d for d in ("old-delivered", "old-dead", "old-pending", "new-delivered", "new-dead") if db.delivery(d)}
    assert kept == {"old-pending", "new-delivered", "new-dead"}
    assert db.purge(before=at(1000)) == 0


def test_postgres_notifies_deliverers_when_deliveries_are_queued(pg: Database) -> None:
    listener = pg.listener([WEBHOOK_CHANNEL])
    try:
        pg.write([session()], [utterance("u1")], [delivery("d1"), delivery("d2")])
        assert listener.wait(5) == [(WEBHOOK_CHANNEL, "")]  # one per transaction
        pg.write([session()], [utterance("u1")], [delivery("d1"), delivery("d2")])  # nothing new
        pg.write([session()], [utterance("u2")])
        assert listener.wait(0.3) == []
        pg.write([], [], [delivery("d2"), delivery("d3")])
        assert listener.wait(5) == [(WEBHOOK_CHANNEL, "")]

        pg.claim_deliveries(now=at(20), lease=30, limit=1, replica="r")
        pg.dead_letter("d1", now=at(21), error="HTTP 400")
        assert listener.wait(0.3) == []
        assert pg.redrive("d1", now=at(30)) is not None
        assert listener.wait(5) == [(WEBHOOK_CHANNEL, "")]
        assert pg.redrive("d1", now=at(30)) is None
        assert listener.wait(0.3) == []
    finally:
        listener.close()


def test_postgres_notifies_no_one_of_a_rolled_back_write(pg: Database) -> None:
    listener = pg.listener([WEBHOOK_CHANNEL])
    try:
        with pytest.raises(IntegrityError):
            pg.write([], [utterance("u1", session_id="no-such-session")], [delivery("d1")])
        with pytest.raises(IntegrityError):  # the deliveries' INSERT runs and then the batch fails
            pg.write([], [], [delivery("d2"), delivery("d3", status="bogus")])  # type: ignore[arg-type]
        assert listener.wait(0.5) == []
        assert pg.pending_count() == 0
    finally:
        listener.close()


def test_postgres_notifies_replicas_of_config_changes(pg: Database) -> None:
    listener = pg.listener([CONFIG_CHANNEL, WEBHOOK_CHANNEL])
    try:
        changes = (
            lambda: pg.put_subscription(subscription("sub-1")),
            lambda: pg.put_subscription(subscription("sub-1", url="https://changed.example/")),
            lambda: pg.delete_subscription("sub-1"),
            lambda: pg.put_phrase_rule(phrase_rule("rule-1")),
            lambda: pg.delete_phrase_rule("rule-1"),
        )
        for change in changes:
            change()
            assert listener.wait(5) == [(CONFIG_CHANNEL, "")]
        assert pg.delete_subscription("sub-1") is False
        assert pg.delete_phrase_rule("rule-1") is False
        assert listener.wait(0.3) == []
    finally:
        listener.close()
