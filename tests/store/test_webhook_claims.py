"""Claiming deliveries: heads of each (subscription, conversation) queue only, when due and not
leased; leases that run out; retries, dead letters and redrives keep each queue in order;
concurrent claimers never share a delivery while its lease holds."""

from __future__ import annotations

import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, text

from connector.store import Database
from connector.store.records import Delivery
from connector.store.schema import webhook_deliveries

from .kit import at, delivery

NOW = at(100)


def _ids(claimed: list[Delivery]) -> list[str]:
    return [d.id for d in claimed]


def _claim(db: Database, *, now: float = 100, lease: float = 30, limit: int = 10, replica: str = "a") -> list[str]:
    return _ids(db.claim_deliveries(now=at(now), lease=lease, limit=limit, replica=replica))


def _lease(db: Database, id: str) -> tuple[object, object]:
    with db.engine.connect() as connection:
        row = connection.execute(
            select(webhook_deliveries.c.leased_until, webhook_deliveries.c.replica).where(webhook_deliveries.c.id == id)
        ).one()
    return row.leased_until, row.replica


def _queue(db: Database) -> None:
    db.write(
        [],
        [],
        [
            delivery("a1", "sub-1", "c1"),
            delivery("b1", "sub-1", "c2"),
            delivery("a2", "sub-1", "c1"),
            delivery("c1", "sub-2", "c1"),
            delivery("a3", "sub-1", "c1"),
        ],
    )


def test_only_the_head_of_each_queue_is_claimed(db: Database) -> None:
    _queue(db)
    claimed = db.claim_deliveries(now=NOW, lease=30, limit=10, replica="replica-a")
    assert _ids(claimed) == ["a1", "b1", "c1"]  # by sequence
    assert [d.attempts for d in claimed] == [1, 1, 1]
    assert claimed[0] == db.delivery("a1")
    assert _lease(db, "a1") == (at(130), "replica-a")
    assert _claim(db) == []  # leased, and a2 is behind a1
    assert db.pending_count() == 5


def test_limit_takes_the_oldest_heads(db: Database) -> None:
    _queue(db)
    assert _claim(db, limit=2) == ["a1", "b1"]
    assert _claim(db, limit=2) == ["c1"]
    with pytest.raises(ValueError, match="limit"):
        _claim(db, limit=0)
    with pytest.raises(ValueError, match="lease"):
        _claim(db, lease=0)
    with pytest.raises(ValueError, match="now"):
        db.claim_deliveries(now=at(0).replace(tzinfo=None), lease=1, limit=1, replica="a")


def test_a_queue_stays_in_order_across_attempts(db: Database) -> None:
    _queue(db)
    assert _claim(db) == ["a1", "b1", "c1"]
    db.retry("a1", next_attempt_at=at(200), error="HTTP 503")
    db.delivered("b1", now=at(101))
    db.delivered("c1", now=at(101))
    assert _claim(db, now=150) == []  # a1 is not due yet, and a2 waits behind it
    retried = db.claim_deliveries(now=at(200), lease=30, limit=10, replica="b")
    assert _ids(retried) == ["a1"]
    assert retried[0].attempts == 2 and retried[0].last_error == "HTTP 503"
    db.delivered("a1", now=at(201))
    assert _claim(db, now=201) == ["a2"]
    db.delivered("a2", now=at(202))
    assert _claim(db, now=202) == ["a3"]
    done = db.delivery("a1")
    assert done is not None and done.status == "delivered" and done.delivered_at == at(201)
    assert _lease(db, "a1")[0] is None
    assert db.pending_count() == 1


def test_a_delivery_is_claimed_when_it_is_due(db: Database) -> None:
    db.write([], [], [delivery("later", next_attempt_at=at(500)), delivery("now", "sub-2")])
    assert _claim(db, now=499) == ["now"]
    assert _claim(db, now=500) == ["later"]


def test_an_expired_lease_lets_another_replica_claim(db: Database) -> None:
    _queue(db)
    assert _claim(db, now=100, lease=30, replica="a") == ["a1", "b1", "c1"]
    db.delivered("b1", now=at(101))
    db.delivered("c1", now=at(101))
    assert _claim(db, now=130, replica="b") == []  # the lease holds until 130 itself
    again = db.claim_deliveries(now=at(131), lease=30, limit=10, replica="b")
    assert _ids(again) == ["a1"] and again[0].attempts == 2
    assert _lease(db, "a1") == (at(161), "b")
    db.delivered("a1", now=at(140))  # replica a, late: it did get through
    db.delivered("a1", now=at(150))  # replica b: the first time stays
    done = db.delivery("a1")
    assert done is not None and done.delivered_at == at(140)
    db.retry("a1", next_attempt_at=at(999), error="late")  # not pending: ignored
    db.dead_letter("a1", now=at(999), error="late")
    assert db.delivery("a1") == done


def test_a_dead_head_unblocks_the_next(db: Database) -> None:
    _queue(db)
    assert _claim(db, limit=1) == ["a1"]
    db.dead_letter("a1", now=at(105), error="HTTP 410 Gone")
    dead = db.delivery("a1")
    assert dead is not None
    assert (dead.status, dead.last_error, dead.next_attempt_at, dead.attempts) == ("dead", "HTTP 410 Gone", at(105), 1)
    assert _lease(db, "a1")[0] is None
    assert _claim(db, now=105) == ["b1", "a2", "c1"]
    assert db.pending_count() == 4


def test_a_redriven_delivery_waits_for_the_one_in_flight(db: Database) -> None:
    _queue(db)
    _claim(db, limit=1)
    db.dead_letter("a1", now=at(101), error="HTTP 400")
    assert _claim(db, now=102) == ["b1", "a2", "c1"]
    db.delivered("b1", now=at(102))
    db.delivered("c1", now=at(102))
    redriven = db.redrive("a1", now=at(103))
    assert redriven is not None and redriven.status == "pending"
    assert _claim(db, now=103) == []  # a2 holds its lease: a1 waits
    assert db.next_due(now=at(103)) == at(132)  # when a2's lease runs out
    db.delivered("a2", now=at(104))
    assert _claim(db, now=104) == ["a1"]  # back at the head of its queue


def test_next_due(db: Database) -> None:
    assert db.next_due(now=NOW) is None
    db.write(
        [],
        [],
        [
            delivery("a1", "sub-1", "c1", next_attempt_at=at(300)),
            delivery("a2", "sub-1", "c1", next_attempt_at=at(50)),  # due, but behind a1
            delivery("b1", "sub-1", "c2", next_attempt_at=at(400)),
        ],
    )
    due = db.next_due(now=NOW)
    assert due == at(300) and due is not None and due.utcoffset() is not None
    assert _claim(db, now=300, lease=500) == ["a1"]
    assert db.next_due(now=at(300)) == at(400)  # a1 is leased until 800
    db.delivered("b1", now=at(301))  # (as if a late replica had delivered it)
    assert db.next_due(now=at(301)) == at(800)
    db.delivered("a1", now=at(302))
    assert db.next_due(now=at(302)) == at(50)  # a2 is the head: due already
    db.dead_letter("a2", now=at(303), error="x")
    assert db.next_due(now=at(303)) is None


def test_claimers_in_threads_never_share_a_delivery(db: Database) -> None:
    """4 threads claim 200 single-delivery queues in small batches; leases hold throughout."""
    db.write([], [], [delivery(f"d{n}", conversation_id=f"c{n}") for n in range(200)])
    claims: dict[str, list[str]] = defaultdict(list)

    def claimer(name: str) -> None:
        while batch := db.claim_deliveries(now=NOW, lease=600, limit=3, replica=name):
            claims[name].extend(_ids(batch))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(claimer, ["r0", "r1", "r2", "r3"]))
    everything = [id for ids in claims.values() for id in ids]
    assert sorted(everything) == sorted(f"d{n}" for n in range(200))  # each exactly once
    assert all(d.attempts == 1 for d in (db.delivery(f"d{n}") for n in range(200)) if d is not None)
    if db.backend == "postgresql":
        assert len(claims) > 1  # they did run side by side


def test_claimers_in_threads_keep_every_queue_in_order(db: Database) -> None:
    """40 queues of 5: each claim is delivered at once, so the next of its queue comes up."""
    records = [delivery(f"q{q}-{k}", conversation_id=f"c{q}") for k in range(5) for q in range(40)]
    db.write([], [], records)
    seen: dict[str, list[str]] = defaultdict(list)
    lock = threading.Lock()

    def claimer(name: str) -> int:
        taken = 0
        while db.pending_count():
            for claimed in db.claim_deliveries(now=NOW, lease=600, limit=4, replica=name):
                with lock:
                    seen[claimed.conversation_id].append(claimed.id)
                db.delivered(claimed.id, now=NOW)
                taken += 1
        return taken

    with ThreadPoolExecutor(4) as pool:
        taken = list(pool.map(claimer, ["r0", "r1", "r2", "r3"]))
    assert sum(taken) == 200
    assert seen == {f"c{q}": [f"q{q}-{k}" for k in range(5)] for q in range(40)}


def test_postgres_skips_a_head_locked_by_another_claimer(pg: Database) -> None:
    """A claim does not wait for a row another transaction holds, nor take what is behind it."""
    pg.write([], [], [delivery("a1", "sub-1", "c1"), delivery("a2", "sub-1", "c1"), delivery("b1", "sub-1", "c2")])
    with pg.engine.connect() as holder, ThreadPoolExecutor(1) as pool:
        holder.execute(text("SELECT 1 FROM webhook_deliveries WHERE id = 'a1' FOR UPDATE"))
        try:
            claimed = pool.submit(pg.claim_deliveries, now=NOW, lease=30, limit=10, replica="b").result(timeout=10)
        finally:
            holder.rollback()  # (were the claim waiting for the lock, this would let it go)
        assert _ids(claimed) == ["b1"]
    assert _claim(pg) == ["a1"]
