"""Writes to the store off the audio path: a bounded spool, batched in a worker thread, retried.

Sessions hand records to :meth:`StoreWriter.session` and :meth:`StoreWriter.utterance`, which
never block and never raise: the transcript has already gone to Genesys, and a slow or absent
database must not hold up a call. One task takes whatever is waiting (up to ``batch_size``
utterances, and the newest state of every session) and writes it in one transaction in a worker
thread under the store's own limiter, so database calls never take the engines' threads.

If the write fails (database down, locked, a network blip), the same batch is retried after an
exponential back-off (0.25 s doubling to ``max_backoff``); writes are idempotent, so a batch that
committed but whose acknowledgement was lost does no harm. Meanwhile the spool keeps filling: past
``max_spool`` utterances the oldest are dropped, each one counted (``connector_store_dropped_total``)
and logged (with ids, never text). Session rows are one per session (the newest replaces the older),
so they cannot grow the spool.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import trio
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError

from .records import Delivery, SessionRecord, UtteranceRecord

__all__ = ["BatchWriter", "StoreObserver", "StoreWriter"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class BatchWriter(Protocol):
    """What the writer needs of the database (:meth:`connector.store.Database.write`)."""

    def write(
        self,
        sessions: Sequence[SessionRecord],
        utterances: Sequence[UtteranceRecord],
        deliveries: Sequence[Delivery] = (),
    ) -> None: ...


class StoreObserver(Protocol):
    """The store's hooks into ``/metrics`` (:class:`connector.observe.Observer` has them)."""

    def store_written(self, rows: int, seconds: float) -> None: ...

    def store_failed(self) -> None: ...

    def store_dropped(self, rows: int) -> None: ...

    def store_backlog(self, rows: int) -> None: ...


class StoreWriter:
    """The server's one writer task and its spool (see the module docstring)."""

    def __init__(
        self,
        database: BatchWriter,
        limiter: trio.CapacityLimiter,
        observer: StoreObserver,
        *,
        max_spool: int = 50_000,
        batch_size: int = 500,
        max_backoff: float = 30.0,
        initial_backoff: float = 0.25,
        clock: Callable[[], float] = trio.current_time,
        on_deliveries: Callable[[], None] = lambda: None,
        batch_delay: float = 0.1,
    ) -> None:
        self.database = database
        self.limiter = limiter
        self.observer = observer
        self.max_spool = max_spool
        self.batch_size = batch_size
        self.max_backoff = max_backoff
        self.initial_backoff = initial_backoff
        self.clock = clock
        self.batch_delay = batch_delay
        """Seconds the writer lets records gather after the first arrives: at 200 finals a second
        a write per record costs a transaction each (~1 ms of the event loop's core apiece)."""
        self.on_deliveries = on_deliveries
        """Called after a write that queued webhook deliveries (the deliverer's wake-up)."""
        self._utterances: deque[UtteranceRecord] = deque()
        self._deliveries: deque[Delivery] = deque()
        self._sessions: dict[str, SessionRecord] = {}
        self._after: dict[str, list[Callable[[], None]]] = {}
        self._news = trio.Event()
        self._idle = trio.Event()
        self._idle.set()
        self.dropped = 0
        self.failures = 0
        self.written = 0

    # ------------------------------------------------------------- producers (never block)

    def session(
        self, record: SessionRecord, then: Callable[[], None] | None = None, deliveries: Sequence[Delivery] = ()
    ) -> None:
        """Upsert the session's row; ``then`` runs once a write containing it has committed
        (the control API answers "applied" only when a status read will show it)."""
        self._sessions[record.session_id] = record
        if then is not None:
            self._after.setdefault(record.session_id, []).append(then)
        self.deliveries(deliveries)
        self._wake()

    def utterance(self, record: UtteranceRecord, deliveries: Sequence[Delivery] = ()) -> None:
        """A final to store, with the webhook deliveries it makes (written in the same transaction
        when they fit one batch)."""
        self._utterances.append(record)
        if len(self._utterances) > self.max_spool:
            lost = self._utterances.popleft()
            self._lost("transcript", session=lost.session_id, utterance=lost.utterance_id)
        self.deliveries(deliveries)
        self._wake()

    def deliveries(self, deliveries: Sequence[Delivery]) -> None:
        """Webhook deliveries to queue durably (phrase events; those of the records above)."""
        if not deliveries:
            return
        self._deliveries.extend(deliveries)
        while len(self._deliveries) > self.max_spool:
            lost = self._deliveries.popleft()
            self._lost("webhook delivery", delivery=lost.id, conversation=lost.conversation_id)
        self._wake()

    def _lost(self, what: str, **ids: str) -> None:
        self.dropped += 1
        self.observer.store_dropped(1)
        log.error(f"store spool full: dropping a {what}", extra={**ids, "spool": self.max_spool})

    def _wake(self) -> None:
        self._idle = trio.Event() if self._idle.is_set() else self._idle
        self._news.set()

    @property
    def backlog(self) -> int:
        return len(self._utterances) + len(self._deliveries) + len(self._sessions)

    async def wait_idle(self) -> None:
        """Until everything handed over so far is written (tests, and the drain at shutdown)."""
        await self._idle.wait()

    # ------------------------------------------------------------- the task

    async def run(self) -> None:
        """Write until cancelled; the caller bounds a final :meth:`flush` at shutdown."""
        while True:
            await self._news.wait()
            await trio.sleep(self.batch_delay)
            self._news = trio.Event()
            await self._write_all()

    async def flush(self) -> None:
        """Write what is waiting now (retrying as :meth:`run` does); bound it with a deadline."""
        await self._write_all()

    async def _write_all(self) -> None:
        backoff = self.initial_backoff
        solo = 0  # after a record the database refuses: how many to write one at a time
        while self.backlog:
            sessions, count, queued = self._take(one=solo > 0)
            utterances = [self._utterances[i] for i in range(count)]
            deliveries = [self._deliveries[i] for i in range(queued)]
            rows = len(sessions) + count + queued
            after = {key: self._after.pop(key) for key in sessions if key in self._after}
            self.observer.store_backlog(self.backlog)
            started = self.clock()
            try:
                await trio.to_thread.run_sync(
                    self._write, list(sessions.values()), utterances, deliveries, limiter=self.limiter
                )
            except Exception as exc:
                self.failures += 1
                self.observer.store_failed()
                if _refused(exc) and rows == 1:
                    self._drop_refused(sessions, utterances, deliveries, exc)
                    solo = max(0, solo - 1)
                    continue
                # Put the sessions back unless a newer state of the same session arrived meanwhile.
                self._sessions = {**sessions, **self._sessions}
                for key, callbacks in after.items():
                    self._after[key] = callbacks + self._after.get(key, [])
                if _refused(exc):
                    # One bad record must not hold up the rest: write this batch one record at a time.
                    solo = rows
                    log.warning("store refused a batch; writing it record by record", extra={"rows": solo})
                    continue
                log.warning(
                    "store write failed; retrying",
                    extra={"error": type(exc).__name__, "detail": str(exc)[:200], "retry_in": backoff},
                )
                await trio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = self.initial_backoff
            solo = max(0, solo - rows)
            for callbacks in after.values():
                for callback in callbacks:
                    callback()
            self.observer.store_written(rows, self.clock() - started)
            self.written += len(utterances)
            _forget(self._utterances, utterances)
            _forget(self._deliveries, deliveries)
            if deliveries:
                self.on_deliveries()
        self.observer.store_backlog(0)
        self._idle.set()

    def _take(self, *, one: bool) -> tuple[dict[str, SessionRecord], int, int]:
        """The next batch: every waiting session row, up to ``batch_size`` utterances and as many
        deliveries (one record when writing record by record; sessions first, so their
        utterances find them)."""
        if not one:
            sessions, self._sessions = self._sessions, {}
            return sessions, min(len(self._utterances), self.batch_size), min(len(self._deliveries), self.batch_size)
        if self._sessions:
            key = next(iter(self._sessions))
            return {key: self._sessions.pop(key)}, 0, 0
        return ({}, 1, 0) if self._utterances else ({}, 0, 1)

    def _drop_refused(
        self,
        sessions: dict[str, SessionRecord],
        utterances: list[UtteranceRecord],
        deliveries: list[Delivery],
        exc: Exception,
    ) -> None:
        """The database refuses this one record (not a passing failure): count it, log it, go on."""
        self.dropped += 1
        self.observer.store_dropped(1)
        if sessions:
            ids = {"session": next(iter(sessions))}
        elif utterances:
            ids = {"utterance": utterances[0].utterance_id}
        else:
            ids = {"delivery": deliveries[0].id}
        log.error(
            "store refused a record; dropped", extra={**ids, "error": type(exc).__name__, "detail": str(exc)[:200]}
        )
        _forget(self._utterances, utterances)
        _forget(self._deliveries, deliveries)

    def _write(
        self, sessions: list[SessionRecord], utterances: list[UtteranceRecord], deliveries: list[Delivery]
    ) -> None:
        if deliveries:
            self.database.write(sessions, utterances, deliveries)
        else:
            self.database.write(sessions, utterances)


def _forget(spool: deque[T], written: list[T]) -> None:
    """Drop written records from the front of their spool (drops while the write ran took from the front too)."""
    for item in written:
        if spool and spool[0] is item:
            spool.popleft()


def _refused(exc: Exception) -> bool:
    """An error the same record will meet again (a constraint, a value the column cannot take),
    as opposed to a passing one (connection lost, database locked), which is worth a retry."""
    return isinstance(exc, (IntegrityError, DataError, ProgrammingError))
