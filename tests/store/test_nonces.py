"""Replay protection shared by replicas: a nonce is accepted once until it expires, even under a race."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from connector.store import Database

from .kit import at


def test_seen_until_it_expires(db: Database) -> None:
    assert db.nonce_seen_or_add("n1", now=at(0), expires_at=at(300)) is False
    assert db.nonce_seen_or_add("n1", now=at(1), expires_at=at(301)) is True
    assert db.nonce_seen_or_add("n1", now=at(299.999), expires_at=at(600)) is True
    assert db.nonce_seen_or_add("n2", now=at(1), expires_at=at(301)) is False
    # Expired: recorded again, with its new expiry.
    assert db.nonce_seen_or_add("n1", now=at(300), expires_at=at(900)) is False
    assert db.nonce_seen_or_add("n1", now=at(800), expires_at=at(1000)) is True
    assert db.nonce_seen_or_add("n1", now=at(900), expires_at=at(1000)) is False


def _race(db: Database, key: str, threads: int) -> list[bool]:
    barrier = threading.Barrier(threads)

    def attempt(_: int) -> bool:
        barrier.wait()
        return db.nonce_seen_or_add(key, now=at(1000), expires_at=at(1300))

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(attempt, range(threads)))


def test_racing_threads_one_wins(db: Database) -> None:
    results = _race(db, "fresh", 12)
    assert results.count(False) == 1
    assert results.count(True) == 11


def test_racing_threads_on_an_expired_nonce_one_wins(db: Database) -> None:
    assert db.nonce_seen_or_add("stale", now=at(0), expires_at=at(10)) is False
    results = _race(db, "stale", 12)
    assert results.count(False) == 1
    assert db.nonce_seen_or_add("stale", now=at(1200), expires_at=at(1500)) is True
