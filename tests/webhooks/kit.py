"""Helpers for the webhook tests: records, fast settings, a running deliverer, waiting for a condition."""

from __future__ import annotations

import base64
import itertools
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
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
    """A :class:`connector.webhooks.WebhookObserver` that remembers every call."""

    def __init__(self) -> None:
        self.delivered: list[tuple[float, int]] = []
        self.failed: list[str] = []
        self.dead: list[str] = []
        self.backlog: list[int] = []

    def webhook_delivered(self, seconds_since_created: float, attempts: int) -> None:
        self.delivered.append((seconds_since_created, attempts))

    def webhook_attempt_failed(self, reason: str) -> None:
        self.failed.append(reason)

    def webhook_dead(self, reason: str) -> None:
        self.dead.append(reason)

    def webhook_backlog(self, count: int) -> None:
        self.backlog.append(count)


@asynccontextmanager
async def delivering(
    store: Database, subscriptions: Iterable[Subscription] | Callable[[], Iterable[Subscription]], **kw: Any
) -> AsyncIterator[Deliverer]:
    """A :class:`Deliverer` running on ``store`` for the block, cancelled after it."""
    subs = subscriptions if callable(subscriptions) else (lambda fixed=tuple(subscriptions): fixed)
    config = kw.pop("settings", None) or settings()
    deliverer = Deliverer(store, subs, config, trio.CapacityLimiter(4), **kw)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(deliverer.run)
        yield deliverer
        nursery.cancel_scope.cancel()


async def wait_for(condition: Callable[[], bool], *, within: float = 8.0, step: float = 0.02) -> None:
    """Until ``condition()`` holds (fails the test after ``within`` seconds): polled, as what it
    watches (a receiver's log, an observer) has no event to wait on."""
    with trio.fail_after(within):
        while not condition():  # noqa: ASYNC110
            await trio.sleep(step)


async def settled(store: Database, ids: Iterable[str], *, within: float = 8.0) -> list[Delivery]:
    """Wait until none of ``ids`` is pending (read in a thread); their final records."""
    wanted = list(ids)

    def read() -> list[Delivery]:
        found = [store.delivery(id) for id in wanted]
        return [record for record in found if record is not None]

    with trio.fail_after(within):
        while True:
            records = await trio.to_thread.run_sync(read)
            if len(records) == len(wanted) and all(r.status != "pending" for r in records):
                return records
            await trio.sleep(0.05)
