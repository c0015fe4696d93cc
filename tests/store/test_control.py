"""The start/stop control: versions grow by one per request, even from racing replicas; PostgreSQL notifies."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from connector.store import APPLIED_CHANNEL, CONTROL_CHANNEL, ControlRecord, Database, Listener, ListenerLost

from .kit import at, session


def test_versions_grow_and_fields_are_replaced(db: Database) -> None:
    assert db.control("c1") is None
    first = db.put_control(
        "c1",
        "started",
        language="fr-FR",
        engine="google",
        customer_id="cust",
        agent_id="agent",
        options={"partials": True, "vocabulary": ["AudioHook"]},
        now=at(1),
    )
    assert first == ControlRecord(
        conversation_id="c1",
        state="started",
        version=1,
        updated_at=at(1),
        language="fr-FR",
        engine="google",
        customer_id="cust",
        agent_id="agent",
        options={"partials": True, "vocabulary": ["AudioHook"]},
    )
    second = db.put_control("c1", "stopped", now=at(2))
    assert second == ControlRecord(conversation_id="c1", state="stopped", version=2, updated_at=at(2))
    assert db.control("c1") == second
    assert db.put_control("c2", "started", now=at(3)).version == 1
    assert db.put_control("c1", "started", now=at(4)).version == 3


def test_a_control_alone_makes_a_conversation_known(db: Database) -> None:
    record = db.put_control("early", "started", now=at(0))
    conversation = db.conversation("early")
    assert conversation is not None
    assert (conversation.sessions, conversation.utterances, conversation.control) == ((), (), record)
    db.write([session("s1", "early")], [])
    conversation = db.conversation("early")
    assert conversation is not None and conversation.control == record and len(conversation.sessions) == 1


def test_a_bad_state_is_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="state"):
        db.put_control("c1", "paused", now=at(0))  # type: ignore[arg-type]
    assert db.control("c1") is None


def test_racing_requests_get_distinct_versions(url: str) -> None:
    replicas = [Database(url, pool_size=2) for _ in range(2)]  # two "replicas", each with its pool
    for replica in replicas:
        replica.migrate()
    threads, each = 8, 5
    barrier = threading.Barrier(threads)

    def requests(n: int) -> list[int]:
        replica = replicas[n % 2]
        barrier.wait()
        return [replica.put_control("c1", "started", now=at(n)).version for _ in range(each)]

    try:
        with ThreadPoolExecutor(threads) as pool:
            versions = [v for batch in pool.map(requests, range(threads)) for v in batch]
        assert sorted(versions) == list(range(1, threads * each + 1))
        control = replicas[0].control("c1")
        assert control is not None and control.version == threads * each
    finally:
        for replica in replicas:
            replica.close()


def test_sqlite_has_no_listener_and_ignores_applied(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        db.migrate()
        db.notify_applied("c1", 1)  # nothing to tell: one process
        with pytest.raises(RuntimeError, match="PostgreSQL"):
            db.listener([CONTROL_CHANNEL])
    finally:
        db.close()


def _collect(listener: Listener, count: int) -> list[tuple[str, dict[str, object]]]:
    """``count`` notifications, each wait bounded (a lost notification fails the test, it does not hang)."""
    got: list[tuple[str, dict[str, object]]] = []
    deadline = time.monotonic() + 10
    while len(got) < count and time.monotonic() < deadline:
        got += [(channel, json.loads(payload)) for channel, payload in listener.wait(1.0)]
    return got


def test_listener_hears_put_control_and_notify_applied(pg: Database) -> None:
    listener = pg.listener([CONTROL_CHANNEL, APPLIED_CHANNEL])
    try:
        assert listener.wait(0) == []
        pg.put_control("c1", "started", now=at(0))
        assert _collect(listener, 1) == [(CONTROL_CHANNEL, {"conversation": "c1", "version": 1})]
        pg.notify_applied("c1", 1)
        assert _collect(listener, 1) == [(APPLIED_CHANNEL, {"conversation": "c1", "version": 1})]
        for n in range(3):
            pg.put_control("c2", "stopped", now=at(n))
        assert _collect(listener, 3) == [(CONTROL_CHANNEL, {"conversation": "c2", "version": v}) for v in (1, 2, 3)]
    finally:
        listener.close()


def test_listener_only_hears_its_channels(pg: Database) -> None:
    listener = pg.listener([APPLIED_CHANNEL])
    try:
        pg.put_control("c1", "started", now=at(0))
        pg.notify_applied("c1", 1)
        assert _collect(listener, 1) == [(APPLIED_CHANNEL, {"conversation": "c1", "version": 1})]
        assert listener.wait(0) == []
    finally:
        listener.close()


def test_a_dropped_listener_says_so_then_reconnects(pg: Database) -> None:
    listener = pg.listener([CONTROL_CHANNEL])
    try:
        with pg.engine.begin() as connection:
            killed = connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'audiohook-connector listener'"
                )
            ).all()
        assert len(killed) == 1
        with pytest.raises(ListenerLost, match="missed"):
            _collect(listener, 1)
        assert listener.wait(0) == []  # reconnected and LISTENing again
        pg.put_control("c1", "started", now=at(0))
        assert _collect(listener, 1) == [(CONTROL_CHANNEL, {"conversation": "c1", "version": 1})]
    finally:
        listener.close()
    with pytest.raises(RuntimeError, match="closed"):
        listener.wait(0)
