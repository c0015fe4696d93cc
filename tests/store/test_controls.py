"""The control hub: a start/stop reaches the session holding the call, in-process and across replicas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import trio

from connector.store import Database
from connector.store.controls import ControlHub
from connector.store.records import ControlRecord

CONVERSATION = "14b5152d-4700-4969-b721-e3f004eb8b62"
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@asynccontextmanager
async def running(database: Database) -> AsyncIterator[ControlHub]:
    hub = ControlHub(database, trio.CapacityLimiter(2), listen_timeout=0.05)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hub.run)
        with trio.fail_after(10):
            await hub.listening.wait()
        yield hub
        nursery.cancel_scope.cancel()


class Session:
    """Stands for a live session: records what it was given and reports it applied."""

    def __init__(self, hub: ControlHub) -> None:
        self.hub = hub
        self.received: list[ControlRecord] = []
        self.news = trio.Event()

    def __call__(self, record: ControlRecord) -> None:
        self.received.append(record)
        self.hub.applied(record.conversation_id, record.version)
        self.news.set()

    async def next(self) -> ControlRecord:
        with trio.fail_after(5):
            await self.news.wait()
        self.news = trio.Event()
        return self.received[-1]


async def test_a_start_stored_before_the_call_reaches_it_when_it_subscribes(db: Database) -> None:
    stored = await trio.to_thread.run_sync(lambda: db.put_control(CONVERSATION, "started", language="es-ES", now=NOW))
    async with running(db) as hub:
        session = Session(hub)
        unsubscribe = hub.subscribe(CONVERSATION, session)
        received = await session.next()
        assert (received.state, received.version, received.language) == ("started", stored.version, "es-ES")
        unsubscribe()


async def test_a_request_reaches_the_subscribed_session_and_the_api_hears_it_applied(db: Database) -> None:
    async with running(db) as hub:
        session = Session(hub)
        hub.subscribe(CONVERSATION, session)
        record = await trio.to_thread.run_sync(lambda: db.put_control(CONVERSATION, "stopped", now=NOW))
        await hub.requested(record)
        assert (await session.next()).state == "stopped"
        assert await hub.wait_applied(CONVERSATION, record.version, timeout=1.0)
        # Nobody holds another conversation: the API is told so after the timeout.
        assert not await hub.wait_applied("5d9e5e0a-6f7a-4d0e-9c55-0b0f4f1f6e11", 1, timeout=0.05)


async def test_across_replicas_a_request_stored_by_one_is_applied_by_the_other(pg: Database, postgres_url: str) -> None:
    """Two hubs on one PostgreSQL stand for two replicas: the API on one, the call on the other."""
    other = Database(postgres_url)
    try:
        async with running(pg) as api_side, running(other) as call_side:
            session = Session(call_side)
            call_side.subscribe(CONVERSATION, session)
            record = await trio.to_thread.run_sync(lambda: pg.put_control(CONVERSATION, "started", now=NOW))
            await api_side.requested(record)  # nobody here holds the call: the NOTIFY carries it
            started = trio.current_time()
            assert (await session.next()).version == record.version
            assert await api_side.wait_applied(CONVERSATION, record.version, timeout=1.0)
            assert trio.current_time() - started < 1.0
    finally:
        other.close()
