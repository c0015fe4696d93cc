"""Dead letters: newest first with a keyset cursor; a redrive sends one again, same id."""

from __future__ import annotations

import base64
import json

import pytest

from connector.store import Database

from .kit import at, delivery


def _bury(db: Database, count: int) -> None:
    db.write([], [], [delivery(f"d{n}", conversation_id=f"c{n}") for n in range(count)] + [delivery("alive", "sub-9")])
    db.claim_deliveries(now=at(100), lease=30, limit=count + 1, replica="a")
    for n in range(count):
        db.dead_letter(f"d{n}", now=at(101), error=f"HTTP 5{n:02d}")


def test_dead_letters_newest_first_page_by_page(db: Database) -> None:
    _bury(db, 5)
    pages, cursor = [], None
    while True:
        items, cursor = db.dead_letters(cursor=cursor, limit=2)
        pages.append([d.id for d in items])
        if cursor is None:
            break
    assert pages == [["d4", "d3"], ["d2", "d1"], ["d0"]]
    everything, last = db.dead_letters(cursor=None, limit=5)
    assert last is None and [d.id for d in everything] == ["d4", "d3", "d2", "d1", "d0"]
    assert all(d.status == "dead" and d.last_error is not None for d in everything)


def test_no_dead_letters(db: Database) -> None:
    assert db.dead_letters(cursor=None, limit=10) == ([], None)


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        "",
        base64.urlsafe_b64encode(b"[1, 2").decode(),
        base64.urlsafe_b64encode(json.dumps(["dead", "3"]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps(["dead", 0]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps(["dead", True]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps(["other", 3]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps({"dead": 3}).encode()).decode(),
    ],
)
def test_an_invalid_cursor_is_refused(db: Database, cursor: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        db.dead_letters(cursor=cursor, limit=10)


def test_limit_must_be_positive(db: Database) -> None:
    with pytest.raises(ValueError, match="limit"):
        db.dead_letters(cursor=None, limit=0)


def test_redrive_makes_a_dead_letter_pending_again(db: Database) -> None:
    _bury(db, 3)
    before = db.delivery("d1")
    assert before is not None
    redriven = db.redrive("d1", now=at(500))
    assert redriven is not None
    assert redriven.id == "d1" and redriven.sequence == before.sequence
    assert (redriven.status, redriven.next_attempt_at, redriven.attempts) == ("pending", at(500), 0)
    assert redriven.last_error == "HTTP 501"  # kept: why it died the last time
    assert db.delivery("d1") == redriven
    assert [d.id for d in db.dead_letters(cursor=None, limit=10)[0]] == ["d2", "d0"]
    assert db.pending_count() == 2  # d1 and "alive" (whose lease ran out at 130)
    assert [d.id for d in db.claim_deliveries(now=at(499), lease=30, limit=10, replica="b")] == ["alive"]
    claimed = db.claim_deliveries(now=at(500), lease=30, limit=10, replica="b")
    assert [d.id for d in claimed] == ["d1"] and claimed[0].attempts == 1


def test_redrive_of_what_is_not_dead(db: Database) -> None:
    _bury(db, 1)
    assert db.redrive("alive", now=at(500)) is None  # pending
    db.delivered("alive", now=at(200))
    assert db.redrive("alive", now=at(500)) is None  # delivered
    assert db.redrive("unknown", now=at(500)) is None
    assert db.redrive("d0", now=at(500)) is not None
    assert db.redrive("d0", now=at(500)) is None  # pending again already
