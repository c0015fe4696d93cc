"""The write and claim paths leave no cyclic garbage: the server runs the collector rarely (see
docs/performance.md), so garbage made per write piled up for minutes and was freed in one long pause."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from connector.store import Database, Delivery, SessionRecord, UtteranceRecord

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def garbage_per_call(call: Callable[[int], object], times: int = 50) -> float:
    for n in range(10):  # warm caches (compiled statements, pools)
        call(n)
    gc.collect()
    for n in range(10, 10 + times):
        call(n)
    return gc.collect() / times


@pytest.mark.usefixtures("collector_off")
def test_writes_and_claims_make_no_cyclic_garbage(db: Database) -> None:
    def write(n: int) -> None:
        session = SessionRecord(f"s{n}", "c", "o", "r", started_at=NOW, updated_at=NOW)
        utterance = UtteranceRecord(f"s{n}", "c", "u", 0, "external", 0.0, 1.0, "hello", 0.9, "en-US", NOW)
        delivery = Delivery(str(uuid.uuid4()), "sub", "c", "utterance.final", {"n": n}, NOW, NOW)
        db.write([session], [utterance], [delivery])

    assert garbage_per_call(write) < 1
    assert garbage_per_call(lambda n: db.claim_deliveries(now=NOW, lease=1, limit=10, replica="r")) < 1
