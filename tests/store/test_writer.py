"""The store writer: batches off the audio path, retries a database that fails, counts what it drops."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
import trio
from sqlalchemy.exc import IntegrityError

from connector.store.records import SessionRecord, UtteranceRecord
from connector.store.writer import StoreWriter
from connector.testing.recording import RecordingObserver

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def utterance(n: int) -> UtteranceRecord:
    return UtteranceRecord(
        session_id="s", conversation_id="c", utterance_id=f"u{n}", channel=0, role="external",
        offset=float(n), duration=1.0, text=f"text {n}", confidence=0.9, language="en-US", sent_at=NOW,
    )  # fmt: skip


def session(outcome: str | None = None) -> SessionRecord:
    return SessionRecord("s", "c", "o", "r", started_at=NOW, outcome=outcome)


class FlakyDatabase:
    """A database that refuses the first ``failures`` writes (as a locked or unreachable one does)."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.batches: list[tuple[list[SessionRecord], list[UtteranceRecord]]] = []
        self.attempts = 0

    def write(self, sessions: Sequence[SessionRecord], utterances: Sequence[UtteranceRecord]) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ConnectionError("database unavailable")
        self.batches.append((list(sessions), list(utterances)))

    @property
    def utterances(self) -> list[str]:
        return [u.utterance_id for _, batch in self.batches for u in batch]


class StoreCounts(RecordingObserver):
    def __init__(self) -> None:
        super().__init__()
        self.written = self.failed = self.dropped = 0

    def store_written(self, rows: int, seconds: float) -> None:
        self.written += rows

    def store_failed(self) -> None:
        self.failed += 1

    def store_dropped(self, rows: int) -> None:
        self.dropped += rows


@pytest.fixture
def limiter() -> trio.CapacityLimiter:
    return trio.CapacityLimiter(1)


async def test_records_are_written_in_batches_in_order(limiter: trio.CapacityLimiter) -> None:
    database, counts = FlakyDatabase(), StoreCounts()
    writer = StoreWriter(database, limiter, counts, batch_size=3)
    for n in range(7):
        writer.utterance(utterance(n))
    writer.session(session())
    writer.session(session("completed"))  # the newer state of the same session replaces the older
    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer.run)
        with trio.fail_after(5):
            await writer.wait_idle()
        nursery.cancel_scope.cancel()
    assert database.utterances == [f"u{n}" for n in range(7)]
    assert [len(batch) for _, batch in database.batches] == [3, 3, 1]
    sessions = [s for batch, _ in database.batches for s in batch]
    assert [s.outcome for s in sessions] == ["completed"]
    assert counts.written == 8 and writer.backlog == 0


async def test_a_failing_database_is_retried_with_back_off_and_nothing_is_lost(
    limiter: trio.CapacityLimiter,
) -> None:
    database, counts = FlakyDatabase(failures=4), StoreCounts()
    writer = StoreWriter(database, limiter, counts, initial_backoff=0.001)
    writer.utterance(utterance(0))
    writer.session(session())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer.run)
        with trio.fail_after(10):
            await writer.wait_idle()
        nursery.cancel_scope.cancel()
    assert database.attempts == 5 and counts.failed == 4
    assert database.utterances == ["u0"]
    assert [s.session_id for batch, _ in database.batches for s in batch] == ["s"]


async def test_a_full_spool_drops_the_oldest_and_counts_each(limiter: trio.CapacityLimiter) -> None:
    database, counts = FlakyDatabase(), StoreCounts()
    writer = StoreWriter(database, limiter, counts, max_spool=5)
    for n in range(8):  # the database is not being written to yet (no task): the spool fills
        writer.utterance(utterance(n))
    assert writer.dropped == 3 and counts.dropped == 3
    await writer.flush()
    assert database.utterances == ["u3", "u4", "u5", "u6", "u7"]


async def test_records_arriving_during_a_write_are_written_next(limiter: trio.CapacityLimiter) -> None:
    database, counts = FlakyDatabase(), StoreCounts()
    writer = StoreWriter(database, limiter, counts)
    writer.utterance(utterance(0))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer.run)
        await trio.testing.wait_all_tasks_blocked()
        writer.utterance(utterance(1))
        with trio.fail_after(5):
            await writer.wait_idle()
        nursery.cancel_scope.cancel()
    assert database.utterances == ["u0", "u1"]


class RefusingDatabase(FlakyDatabase):
    """Refuses one utterance for good (as a constraint the record breaks would), writes the rest."""

    def write(self, sessions: Sequence[SessionRecord], utterances: Sequence[UtteranceRecord]) -> None:
        if any(u.utterance_id == "u3" for u in utterances):
            self.attempts += 1
            raise IntegrityError("INSERT", {}, Exception("refused"))
        super().write(sessions, utterances)


async def test_a_record_the_database_refuses_is_dropped_alone_and_counted(limiter: trio.CapacityLimiter) -> None:
    database, counts = RefusingDatabase(), StoreCounts()
    writer = StoreWriter(database, limiter, counts)
    applied = trio.Event()
    writer.session(session(), then=applied.set)
    for n in range(6):
        writer.utterance(utterance(n))
    with trio.fail_after(5):
        await writer.flush()
    assert database.utterances == ["u0", "u1", "u2", "u4", "u5"]  # one by one after the batch was refused
    assert counts.dropped == 1 and writer.dropped == 1 and writer.backlog == 0
    assert applied.is_set()  # the session row was written, so its callback ran
