"""Listing conversations: by when their first session started, newest first, paged by an opaque cursor."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest

from connector.store import Database, SessionRecord

from .kit import PARIS, at, session, utterance


def _ids(db: Database, start: datetime | None, end: datetime | None) -> list[str]:
    page = db.conversations(start=start, end=end, cursor=None, limit=10)
    return [item.conversation_id for item in page.items]


def _many(db: Database, count: int) -> None:
    """Conversations c000.. starting one a minute, some sharing a start time (ties break by id)."""
    records: list[SessionRecord] = []
    for n in range(count):
        records.append(session(f"s{n:03}", f"c{n:03}", started_at=at(60 * (n // 2))))
    db.write(records, [])


def test_summary_fields(db: Database) -> None:
    first = session("s1", "c1", started_at=at(0), ended_at=at(50), updated_at=at(50))
    second = session("s2", "c1", started_at=at(60), ended_at=at(90), updated_at=at(90))
    db.write([first, second], [utterance("u1", "s1"), utterance("u2", "s2"), utterance("u3", "s2")])
    db.write([session("s3", "c2", started_at=at(10), organization_id="org-2")], [])
    page = db.conversations(start=None, end=None, cursor=None, limit=10)
    assert page.next_cursor is None
    by_id = {item.conversation_id: item for item in page.items}
    one, two = by_id["c1"], by_id["c2"]
    assert (one.organization_id, one.started_at, one.ended_at, one.sessions, one.utterances) == (
        "org-1",
        at(0),
        at(90),
        2,
        3,
    )
    # A conversation with a live session has not ended.
    assert (two.organization_id, two.started_at, two.ended_at, two.sessions, two.utterances) == (
        "org-2",
        at(10),
        None,
        1,
        0,
    )
    assert [item.conversation_id for item in page.items] == ["c2", "c1"]  # newest first


def test_range_is_by_the_first_session_and_half_open(db: Database) -> None:
    db.write(
        [
            session("a1", "a", started_at=at(0)),
            session("a2", "a", started_at=at(100)),  # a later session does not move "a" into range
            session("b1", "b", started_at=at(100)),
            session("c1", "c", started_at=at(199)),
            session("d1", "d", started_at=at(200)),
        ],
        [],
    )
    assert _ids(db, start=at(100), end=at(200)) == ["c", "b"]
    assert _ids(db, start=at(0), end=at(100)) == ["a"]
    assert _ids(db, start=None, end=at(100)) == ["a"]
    assert _ids(db, start=at(150), end=None) == ["d", "c"]
    assert _ids(db, start=at(201), end=None) == []


def test_pages_cover_everything_once(db: Database) -> None:
    _many(db, 25)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = db.conversations(start=None, end=None, cursor=cursor, limit=4)
        assert len(page.items) <= 4
        seen += [item.conversation_id for item in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 7
    assert seen == sorted((f"c{n:03}" for n in range(25)), reverse=True)


def test_pages_within_a_range(db: Database) -> None:
    _many(db, 20)  # c000..c019 start at 0, 0, 60, 60, ... 540, 540
    cursor: str | None = None
    seen: list[str] = []
    while True:
        page = db.conversations(start=at(120), end=at(420), cursor=cursor, limit=3)
        seen += [item.conversation_id for item in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == [f"c{n:03}" for n in range(13, 3, -1)]


def test_exact_last_page_has_no_cursor(db: Database) -> None:
    _many(db, 4)
    page = db.conversations(start=None, end=None, cursor=None, limit=4)
    assert len(page.items) == 4
    assert page.next_cursor is None


def test_new_conversations_do_not_shift_later_pages(db: Database) -> None:
    _many(db, 6)
    first = db.conversations(start=None, end=None, cursor=None, limit=3)
    db.write([session("new", "c999", started_at=at(10_000))], [])  # newer than everything
    second = db.conversations(start=None, end=None, cursor=first.next_cursor, limit=3)
    assert [item.conversation_id for item in second.items] == ["c002", "c001", "c000"]


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        base64.urlsafe_b64encode(b'["2026-01-01T00:00:00", "c1"]').decode(),  # no zone
        base64.urlsafe_b64encode(b'["yesterday", "c1"]').decode(),
        base64.urlsafe_b64encode(b'["2026-01-01T00:00:00+00:00", 7]').decode(),
        "é",
    ],
)
def test_an_invalid_cursor_is_a_value_error(db: Database, cursor: str) -> None:
    with pytest.raises(ValueError, match="invalid cursor"):
        db.conversations(start=None, end=None, cursor=cursor, limit=10)


def test_limit_must_be_positive(db: Database) -> None:
    with pytest.raises(ValueError, match="limit"):
        db.conversations(start=None, end=None, cursor=None, limit=0)


def test_bounds_in_another_time_zone_mean_the_same_instants(db: Database) -> None:
    db.write([session("s1", "a", started_at=at(0)), session("s2", "b", started_at=at(3600))], [])
    start, end = at(0).astimezone(PARIS), at(3600).astimezone(PARIS)
    assert _ids(db, start=start, end=end) == ["a"]
    page = db.conversations(start=None, end=None, cursor=None, limit=1)
    assert page.next_cursor is not None
    rest = db.conversations(start=start, end=None, cursor=page.next_cursor, limit=5)
    assert [item.conversation_id for item in rest.items] == ["a"]
