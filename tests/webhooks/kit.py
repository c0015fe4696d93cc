"""Helpers for the webhook tests: records, fast settings, a running deliverer and what it reports
(its observer calls, its audit log), each to wait on: woken by the deliverer, never polled."""

from __future__ import annotations

import base64
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import trio

from connector.store import Database
from connector.store.records import Delivery, Subscription, WebhookAuth
from connector.webhooks import Deliverer, WebhookSettings

SECRET = "whsec_" + base64.b64encode(b"a throw-away signing key, 32 by").decode()

_numbers = itertools.count(1)


def now() -> datetime:
    return datetime.now(UTC)


def settings(**changes: Any) -> WebhookSettings:
    """Fast settings for tests: short timeout and back-off."""
    base = WebhookSettings(timeout=1.0, retry_base=0.05, retry_max=0.5, lease=10.0, concurrency=4)
    return replace(base, **changes)


def subscription(url: str, id: str = "sub-1", *, enabled: bool = True, **auth: Any) -> Subscription:
    return Subscription(
        id=id,
        url=url,
        events=frozenset({"utterance.final"}),
        created_at=now(),
        auth=WebhookAuth(**auth),
        source="config",
        enabled=enabled,
    )


def delivery(
    subscription_id: str = "sub-1", conversation_id: str = "c1", n: int | None = None, *, age: float = 0.0
) -> Delivery:
    """A final's delivery; ``n`` (its place in the conversation) is in the body, ``age`` backdates it."""
    number = next(_numbers) if n is None else n
    created = now() - timedelta(seconds=age)
    return Delivery(
        id=f"d-{subscription_id}-{conversation_id}-{number}-{next(_numbers)}",
        subscription_id=subscription_id,
        conversation_id=conversation_id,
        event="utterance.final",
        payload={
            "type": "utterance.final",
            "timestamp": created.isoformat(),
            "data": {"conversationId": conversation_id, "n": number, "text": "héllo wörld"},
        },
        created_at=created,
        next_attempt_at=created,
    )


def queue(store: Database, deliveries: Sequence[Delivery]) -> None:
    store.write([], [], deliveries)


def conversation(subscription_id: str, conversation_id: str, count: int, **kw: Any) -> list[Delivery]:
    return [delivery(subscription_id, conversation_id, n, **kw) for n in range(count)]


class Recorder:
    """A :class:`connector.webhooks.WebhookObserver` that remembers every call; :meth:`until` waits
    for what they show, re-checked after each call."""

    def __init__(self) -> None:
        self.delivered: list[tuple[float, int]] = []
        self.failed: list[str] = []
        self.dead: list[str] = []
        self.backlog: list[int] = []
        self._news = trio.Event()
        """Set by the next call (which puts a new one in its place)."""

    @property
    def outcomes(self) -> int:
        """Attempts settled so far: delivered, failed (told before its retry is written) or dead."""
        return len(self.delivered) + len(self.failed) + len(self.dead)

    async def until(self, condition: Callable[[Recorder], bool], *, within: float = 8.0) -> None:
        """Wait until ``condition(self)`` holds, re-checked after each call."""
        with trio.fail_after(within):
            while not condition(self):
                await self._news.wait()

    def _heard(self) -> None:
        self._news.set()
        self._news = trio.Event()

    def webhook_delivered(self, seconds_since_created: float, attempts: int) -> None:
        self.delivered.append((seconds_since_created, attempts))
        self._heard()

    def webhook_attempt_failed(self, reason: str) -> None:
        self.failed.append(reason)
        self._heard()

    def webhook_dead(self, reason: str) -> None:
        self.dead.append(reason)
        self._heard()

    def webhook_backlog(self, count: int) -> None:
        self.backlog.append(count)
        self._heard()


class AuditLog(logging.Handler):
    """The deliverer's audit log lines (INFO and up) as they are written; :meth:`until` waits for
    what they show. A retry's line comes once the retry is written to the outbox, which no observer
    call announces (``webhook_attempt_failed`` comes before that write)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[logging.LogRecord] = []
        self._news = trio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record)  # the deliverer logs from its trio tasks, never from a worker thread
        self._news.set()
        self._news = trio.Event()

    def retries(self, delivery_id: str) -> list[logging.LogRecord]:
        """The lines of ``delivery_id``'s failed attempts whose retry is written."""
        return [r for r in self.lines if vars(r).get("outcome") == "retry" and vars(r).get("delivery") == delivery_id]

    async def until(self, condition: Callable[[AuditLog], bool], *, within: float = 8.0) -> None:
        """Wait until ``condition(self)`` holds, re-checked after each line."""
        with trio.fail_after(within):
            while not condition(self):
                await self._news.wait()


@contextmanager
def audit_log() -> Iterator[AuditLog]:
    """An :class:`AuditLog` on the deliverer's logger for the block (set to INFO meanwhile if above)."""
    logger = logging.getLogger("connector.webhooks.deliverer")
    handler, level = AuditLog(), logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@dataclass(frozen=True)
class Running:
    deliverer: Deliverer
    observer: Recorder
    """The deliverer's observer: the one given to :func:`delivering`, or a new one."""


@asynccontextmanager
async def delivering(
    store: Database,
    subscriptions: Iterable[Subscription] | Callable[[], Iterable[Subscription]],
    *,
    observer: Recorder | None = None,
    **kw: Any,
) -> AsyncIterator[Running]:
    """A :class:`Deliverer` running on ``store`` for the block, cancelled after it; its observer is
    a :class:`Recorder` (``observer``, or a new one), for :func:`settled` to wait on."""
    subs = subscriptions if callable(subscriptions) else (lambda fixed=tuple(subscriptions): fixed)
    config = kw.pop("settings", None) or settings()
    recorder = observer if observer is not None else Recorder()
    deliverer = Deliverer(store, subs, config, trio.CapacityLimiter(4), observer=recorder, **kw)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(deliverer.run)
        yield Running(deliverer, recorder)
        nursery.cancel_scope.cancel()


async def settled(observer: Recorder, store: Database, ids: Iterable[str], *, within: float = 8.0) -> list[Delivery]:
    """Wait until none of ``ids`` is pending; their final records. A delivery leaves ``pending`` only
    through the deliverer, which tells its ``observer`` (delivered or dead, after the write; a failed
    attempt, before its retry): the store is read (in a thread) at once, then after each of those.
    A read may see a write a moment before the observer is told of it: to check what the observer
    was told of these, wait for it (:meth:`Recorder.until`), or leave the block (which waits)."""
    wanted = list(ids)

    def read() -> list[Delivery]:
        found = [store.delivery(id) for id in wanted]
        return [record for record in found if record is not None]

    with trio.fail_after(within):
        while True:
            seen = observer.outcomes  # taken before the read: an outcome during it means another read
            records = await trio.to_thread.run_sync(read)
            if len(records) == len(wanted) and all(r.status != "pending" for r in records):
                return records
            await observer.until(_outcomes_beyond(seen), within=within)


def _outcomes_beyond(count: int) -> Callable[[Recorder], bool]:
    return lambda observer: observer.outcomes > count
