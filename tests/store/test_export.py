"""Export: every utterance sent in ``[start, end)``, by ``(sent_at, id)``, in batches, in constant memory."""

from __future__ import annotations

import time
import tracemalloc
from datetime import datetime

import pytest
from sqlalchemy import JSON, Float, Integer, Text, cast, insert, literal, null, select

from connector.store import Database
from connector.store.schema import UtcDateTime, utterances

from .kit import PARIS, T0, at, session, utterance


def _sent(db: Database, start: datetime, end: datetime, batch_size: int = 1000) -> list[str]:
    return [u.utterance_id for batch in db.export(start=start, end=end, batch_size=batch_size) for u in batch]


def test_interval_is_half_open(db: Database) -> None:
    db.write(
        [session()],
        [
            utterance("before", sent_at=at(-0.000001)),
            utterance("first", sent_at=at(0)),
            utterance("middle", sent_at=at(5)),
            utterance("last", sent_at=at(9.999999)),
            utterance("end", sent_at=at(10)),
        ],
    )
    assert _sent(db, at(0), at(10)) == ["first", "middle", "last"]
    assert _sent(db, at(10), at(20)) == ["end"]
    assert _sent(db, at(20), at(30)) == []


def test_records_come_back_whole(db: Database) -> None:
    record = utterance("u1", sent_at=at(3))
    db.write([session()], [record])
    assert list(db.export(start=at(0), end=at(10))) == [[record]]


def test_order_is_sent_at_then_insertion(db: Database) -> None:
    db.write([session("s1"), session("s2")], [])
    db.write([], [utterance("late", "s1", sent_at=at(9)), utterance("tie-1", "s2", sent_at=at(5))])
    db.write([], [utterance("tie-2", "s1", sent_at=at(5)), utterance("early", "s2", sent_at=at(1))])
    assert _sent(db, at(0), at(10)) == ["early", "tie-1", "tie-2", "late"]
    assert _sent(db, at(0), at(10), batch_size=1) == ["early", "tie-1", "tie-2", "late"]


@pytest.mark.parametrize(("count", "sizes"), [(7, [3, 3, 1]), (6, [3, 3]), (0, [])])
def test_batches(db: Database, count: int, sizes: list[int]) -> None:
    db.write([session()], [utterance(f"u{n}", sent_at=at(n // 2)) for n in range(count)])
    batches = list(db.export(start=at(0), end=at(100), batch_size=3))
    assert [len(batch) for batch in batches] == sizes
    assert [u.utterance_id for batch in batches for u in batch] == [f"u{n}" for n in range(count)]


def test_abandoning_the_export_holds_nothing(db: Database) -> None:
    db.write([session()], [utterance(f"u{n}", sent_at=at(n)) for n in range(10)])
    export = db.export(start=at(0), end=at(100), batch_size=4)
    assert [u.utterance_id for u in next(export)] == ["u0", "u1", "u2", "u3"]
    assert db.engine.pool.checkedout() == 0  # no connection, cursor or transaction between batches
    # Rows arriving meanwhile after the last key are still exported (keyset paging, no snapshot).
    db.write([], [utterance("u99", sent_at=at(99))])
    assert db.purge(before=at(-1000)) == 0  # a write transaction meets no reader
    assert [u.utterance_id for u in next(export)] == ["u4", "u5", "u6", "u7"]
    export.close()
    assert db.engine.pool.checkedout() == 0
    assert _sent(db, at(0), at(100))[-1] == "u99"


def test_arguments_are_checked_at_the_call(db: Database) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        db.export(start=datetime(2026, 1, 1), end=at(10))
    with pytest.raises(ValueError, match="batch_size"):
        db.export(start=at(0), end=at(10), batch_size=0)


ROWS = 30_000
"""Enough to tell one batch from all (~4 MiB against ~40 MiB); bigger exports belong in a benchmark."""


def _bulk(db: Database, count: int) -> None:
    """``count`` utterances of session s1 in one INSERT ... SELECT (a recursive CTE counts)."""
    db.write([session()], [])
    numbers = select(literal(1, Integer()).label("n")).cte("numbers", recursive=True)
    numbers = numbers.union_all(select((numbers.c.n + 1).label("n")).where(numbers.c.n < count))
    words = [{"value": "word", "offset": 1.0, "duration": 0.5, "confidence": 0.9}] * 3
    rows = select(
        literal("s1", Text()),
        literal("c1", Text()),
        cast(numbers.c.n, Text()),
        literal(0, Integer()),
        literal("external", Text()),
        cast(numbers.c.n, Float()),
        literal(1.5, Float()),
        literal("some words that were said on the call", Text()),
        literal(0.9, Float()),
        literal("en-US", Text()),
        literal(T0, UtcDateTime()),
        literal(words, JSON()),
        null(),
        null(),
        literal("local", Text()),
    )
    columns = [column.name for column in utterances.c if column.name != "id"]
    with db.engine.begin() as connection:
        connection.execute(insert(utterances).from_select(columns, rows))


def test_memory_stays_flat_over_a_large_export(db: Database) -> None:
    _bulk(db, ROWS)
    started = time.monotonic()
    tracemalloc.start()
    try:
        seen = 0
        last = ""
        for batch in db.export(start=T0, end=at(1), batch_size=1000):
            seen += len(batch)
            last = batch[-1].utterance_id
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == ROWS
    assert last == str(ROWS)
    # Holding all 30 000 records takes about 40 MiB; streaming them peaks at one batch's few.
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    assert time.monotonic() - started < 30


def test_bounds_in_another_time_zone_mean_the_same_instants(db: Database) -> None:
    db.write([session()], [utterance("in", sent_at=at(0)), utterance("out", sent_at=at(3600))])
    assert _sent(db, at(0).astimezone(PARIS), at(3600).astimezone(PARIS)) == ["in"]
