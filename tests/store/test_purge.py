"""Retention: what is older than ``before`` goes, in bounded chunks; what is newer stays."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select

from connector.store import Database
from connector.store.schema import nonces, sessions, utterances

from .kit import PARIS, at, session, utterance

BEFORE = at(1000)


def _count(db: Database, table: Any) -> int:
    with db.engine.connect() as connection:
        count: int = connection.execute(select(func.count()).select_from(table)).scalar_one()
        return count


def test_purge_removes_only_what_is_older(db: Database) -> None:
    old = session("old", "c-old", ended_at=at(900), updated_at=at(900), outcome="completed")
    recent = session("recent", "c-recent", ended_at=at(1100), updated_at=at(1100), outcome="completed")
    live = session("live", "c-live", updated_at=at(1200))
    lost = session("lost", "c-lost", updated_at=at(500))  # a replica died with it: never ended
    db.write(
        [old, recent, live, lost],
        [
            utterance("u1", "old", "c-old"),
            utterance("u2", "old", "c-old"),
            utterance("u3", "recent", "c-recent"),
            utterance("u4", "live", "c-live"),
            utterance("u5", "lost", "c-lost"),
        ],
    )
    db.put_control("c-old", "stopped", now=at(10))
    db.put_control("c-live", "started", now=at(1500))
    assert not db.nonce_seen_or_add("expired", now=at(0), expires_at=at(1800))
    assert not db.nonce_seen_or_add("valid", now=at(0), expires_at=at(2100))

    removed = db.purge(before=BEFORE, now=at(2000))

    # 3 utterances + 2 sessions + 1 control + 1 nonce
    assert removed == 7
    assert db.conversation("c-old") is None
    assert db.conversation("c-lost") is None
    kept_recent, kept_live = db.conversation("c-recent"), db.conversation("c-live")
    assert kept_recent is not None and [u.utterance_id for u in kept_recent.utterances] == ["u3"]
    assert kept_live is not None and kept_live.control is not None
    assert db.nonce_seen_or_add("valid", now=at(2000), expires_at=at(3000))
    assert _count(db, nonces) == 1
    assert db.purge(before=BEFORE, now=at(2000)) == 0


def test_nonces_default_to_expiring_at_before(db: Database) -> None:
    assert not db.nonce_seen_or_add("a", now=at(0), expires_at=at(999))
    assert not db.nonce_seen_or_add("b", now=at(0), expires_at=at(1001))
    assert db.purge(before=BEFORE) == 1
    assert _count(db, nonces) == 1


def test_purge_works_in_bounded_chunks(db: Database) -> None:
    ended = [session(f"s{n}", f"c{n}", ended_at=at(10), updated_at=at(10)) for n in range(5)]
    db.write(ended, [utterance(f"u{k}", f"s{n}", f"c{n}") for n in range(5) for k in range(3)])
    deletes: list[int] = []

    def count(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            deletes.append(cursor.rowcount)

    event.listen(db.engine, "after_cursor_execute", count)
    try:
        assert db.purge(before=BEFORE, chunk_size=2) == 20
    finally:
        event.remove(db.engine, "after_cursor_execute", count)
    assert max(deletes) <= 2
    assert sum(deletes) == 20
    assert len(deletes) >= 10
    assert _count(db, utterances) == 0
    assert _count(db, sessions) == 0


def test_deleting_a_session_deletes_utterances_written_late(db: Database) -> None:
    db.write([session(ended_at=at(10), updated_at=at(10))], [utterance("u1")])
    with db.engine.begin() as connection:  # the cascade, as a late retry would leave it
        connection.execute(sessions.delete())
    assert _count(db, utterances) == 0


def test_naive_times_are_refused(db: Database) -> None:
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValueError, match="before"):
        db.purge(before=naive)
    with pytest.raises(ValueError, match="now"):
        db.purge(before=BEFORE, now=naive)


def test_before_in_another_time_zone_means_the_same_instant(db: Database) -> None:
    db.write([session("s1", "c1", ended_at=at(0), updated_at=at(0)), session("s2", "c2", ended_at=at(10))], [])
    assert db.purge(before=at(5).astimezone(PARIS)) == 1
    assert db.conversation("c1") is None
    assert db.conversation("c2") is not None
