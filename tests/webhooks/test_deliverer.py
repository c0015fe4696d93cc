"""The deliverer end to end: the real outbox on SQLite, real receivers on 127.0.0.1, real time.

Each fault of issue #12 (a receiver down, 500 then 200, slow, 429 with Retry-After, past the
max age, answering too late) ends the same way: every delivery reached its receiver at least
once, in order per conversation, and a repeat carries the same ``webhook-id``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trio

from connector.store import Database
from connector.store.records import Delivery, Subscription

from .certs import Pki
from .conftest import MakeReceiver
from .kit import (
    SECRET,
    Recorder,
    audit_log,
    conversation,
    delivering,
    delivery,
    queue,
    settings,
    settled,
    subscription,
)
from .receiver import Receiver, Reply


def in_order(receiver: Receiver, deliveries: list[Delivery]) -> None:
    """Each conversation's deliveries arrived (answered 200) in queue order, each at least once."""
    wanted: dict[str, list[str]] = defaultdict(list)
    for record in deliveries:
        wanted[record.conversation_id].append(record.id)
    got: dict[str, list[str]] = defaultdict(list)
    for received in receiver.received:
        arrived = got[received.json["data"]["conversationId"]]
        if received.status == 200 and received.id is not None and received.id not in arrived:
            arrived.append(received.id)
    assert dict(got) == dict(wanted)


async def test_every_delivery_arrives_in_order_per_conversation(
    store: Database, receivers: MakeReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="connector.webhooks")
    a, b = await receivers(secret=SECRET), await receivers()
    subs = [subscription(a.url, "a", signing_secret=SECRET), subscription(b.url, "b")]
    records = [*conversation("a", "c1", 6), *conversation("a", "c2", 6), *conversation("b", "c1", 6)]
    queue(store, records)
    observer = Recorder()
    async with delivering(store, subs, observer=observer):
        done = await settled(observer, store, [r.id for r in records])
    assert {r.status for r in done} == {"delivered"}
    in_order(a, [r for r in records if r.subscription_id == "a"])
    in_order(b, [r for r in records if r.subscription_id == "b"])
    assert all(r.verified for r in a.received)
    assert len(observer.delivered) == len(records) and all(attempts == 1 for _, attempts in observer.delivered)
    assert observer.failed == [] and observer.dead == [] and observer.backlog[0] == len(records)
    lines = [r for r in caplog.records if r.getMessage() == "webhook delivered"]
    assert len(lines) == len(records)
    line = lines[0]
    assert {"delivery", "subscription", "event", "conversation", "attempt", "status", "seconds"} <= set(vars(line))
    assert (vars(line)["status"], vars(line)["attempt"], line.levelno) == (200, 1, logging.INFO)
    assert all("héllo" not in r.getMessage() and "héllo" not in str(vars(r)) for r in caplog.records)


async def test_a_receiver_down_for_a_while(store: Database, receivers: MakeReceiver) -> None:
    receiver = await receivers()
    await receiver.down()
    records = [*conversation("sub-1", "c1", 4), *conversation("sub-1", "c2", 4)]
    queue(store, records)
    observer = Recorder()
    with audit_log() as audit:
        async with delivering(store, [subscription(receiver.url)], observer=observer):
            # down until four attempts have failed, two of them the first head's with their retries written
            await observer.until(lambda o: len(o.failed) >= 4)
            await audit.until(lambda a: len(a.retries(records[0].id)) >= 2)
            assert receiver.received == [] and set(observer.failed) == {"network"}
            pending = [await trio.to_thread.run_sync(store.delivery, r.id) for r in records]
            assert all(p is not None and p.status == "pending" for p in pending)
            assert pending[0] is not None and pending[0].last_error == "ConnectError" and pending[0].attempts >= 2
            await receiver.up()
            done = await settled(observer, store, [r.id for r in records])
    assert {r.status for r in done} == {"delivered"}
    in_order(receiver, records)
    assert len(receiver.received) == len(records)  # refused connections never reached it


async def test_500_then_200(store: Database, receivers: MakeReceiver) -> None:
    receiver = await receivers()
    receiver.answer(Reply(500), Reply(502), Reply(503))
    records = conversation("sub-1", "c1", 3)
    queue(store, records)
    observer = Recorder()
    async with delivering(store, [subscription(receiver.url)], observer=observer):
        done = await settled(observer, store, [r.id for r in records])
    assert [r.status for r in done] == ["delivered"] * 3
    assert [r.attempts for r in done] == [4, 1, 1]
    assert [r.status for r in receiver.received] == [500, 502, 503, 200, 200, 200]
    assert receiver.ids(answered=None)[:4] == [records[0].id] * 4  # the head is retried; the rest wait
    in_order(receiver, records)
    assert observer.failed == ["server_error"] * 3
    assert [attempts for _, attempts in observer.delivered] == [4, 1, 1]


async def test_a_slow_receiver_delays_only_its_own(store: Database, receivers: MakeReceiver) -> None:
    slow, fast = await receivers(), await receivers()
    slow.default = Reply(delay=0.8)  # under the 1 s timeout: slow, not failing
    slow_records = [delivery("slow", f"s{i}", 0) for i in range(8)]  # 8 conversations, 2 at a time: ~3.2 s
    fast_records = [*conversation("fast", "f1", 5), *conversation("fast", "f2", 5)]
    queue(store, [*slow_records, *fast_records])  # the slow target's are older: claimed first
    subs = [subscription(slow.url, "slow"), subscription(fast.url, "fast")]
    # 6 in hand at most: without the per-target bound the slow target's 8 would take every place
    async with delivering(store, subs, settings=settings(concurrency=2), batch=6, tick=0.5) as running:
        started = trio.current_time()
        await settled(running.observer, store, [r.id for r in fast_records])
        slow_pending = await trio.to_thread.run_sync(store.pending_count)
        assert slow_pending >= 4, "the slow target should still be working"  # (no wall-clock bound: CI is shared)
        await settled(running.observer, store, [r.id for r in slow_records])
        slow_done = trio.current_time() - started
    assert slow_done > 2.4
    assert sorted(slow.ids()) == sorted(r.id for r in slow_records)  # each once: handed back, not sent twice
    assert max(r.at for r in fast.received) < sorted(r.at for r in slow.received)[4]
    in_order(fast, fast_records)


async def test_429_with_retry_after_is_honoured(store: Database, receivers: MakeReceiver) -> None:
    receiver = await receivers()
    receiver.answer(Reply(429, {"Retry-After": "2"}))
    records = conversation("sub-1", "c1", 2)
    queue(store, records)
    observer = Recorder()
    async with delivering(store, [subscription(receiver.url)], settings=settings(retry_max=5.0), observer=observer):
        await settled(observer, store, [r.id for r in records])
    first, second = receiver.received[0], receiver.received[1]
    assert (first.status, second.status, first.id, second.id) == (429, 200, records[0].id, records[0].id)
    assert second.at - first.at >= 1.95  # whole seconds, as asked (the jitter is below the 0.05 s base)
    assert observer.failed == ["throttled"]
    in_order(receiver, records)


async def test_past_the_max_age_a_delivery_is_dead_lettered_and_can_be_redriven(
    store: Database, receivers: MakeReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = await receivers()
    receiver.default = Reply(500)
    old, young = delivery("sub-1", "c1", 0, age=1.5), delivery("sub-1", "c1", 1)
    queue(store, [old, young])
    observer = Recorder()
    async with delivering(store, [subscription(receiver.url)], settings=settings(max_age=2.0), observer=observer):
        (dead,) = await settled(observer, store, [old.id])
        receiver.default = Reply(200)  # the receiver is fixed: the next in the queue goes
        await settled(observer, store, [young.id])
        assert dead.status == "dead" and dead.last_error == "max age reached; last: HTTP 500"
        await observer.until(lambda o: o.dead != [])  # told just after the write, which the read may precede
        assert observer.dead == ["max_age"]
        letters, _cursor = await trio.to_thread.run_sync(lambda: store.dead_letters(cursor=None, limit=10))
        assert [d.id for d in letters] == [old.id]
        redriven = await trio.to_thread.run_sync(lambda: store.redrive(old.id, now=dead.next_attempt_at))
        assert redriven is not None
        (again,) = await settled(observer, store, [old.id])
    assert again.status == "delivered"
    assert receiver.ids()[-2:] == [young.id, old.id]
    line = next(r for r in caplog.records if r.getMessage() == "webhook dead-lettered")
    assert line.levelno == logging.WARNING
    assert (vars(line)["delivery"], vars(line)["reason"]) == (old.id, "max_age")


async def test_an_answer_after_the_timeout_is_sent_again_with_the_same_id(
    store: Database, receivers: MakeReceiver
) -> None:
    receiver = await receivers(secret=SECRET)
    receiver.answer(Reply(delay=1.5))  # 200, but after the 1 s timeout: the deliverer cannot know it arrived
    records = conversation("sub-1", "c1", 2)
    queue(store, records)
    async with delivering(store, [subscription(receiver.url, signing_secret=SECRET)]) as running:
        done = await settled(running.observer, store, [r.id for r in records])
    assert [r.status for r in done] == ["delivered", "delivered"]
    first, repeat = receiver.received[0], receiver.received[1]
    assert first.id == repeat.id == records[0].id and first.body == repeat.body
    assert first.verified and repeat.verified  # each attempt signed afresh, with its own timestamp
    assert receiver.ids(answered=None) == [records[0].id, records[0].id, records[1].id]


async def test_unknown_and_disabled_subscriptions(store: Database, receivers: MakeReceiver) -> None:
    receiver = await receivers()
    ghost, paused = delivery("ghost", "c1"), delivery("sub-1", "c1")
    queue(store, [ghost, paused])
    current: list[Subscription] = [subscription(receiver.url, enabled=False)]
    observer = Recorder()
    with audit_log() as audit:
        async with delivering(store, lambda: current, observer=observer):
            (dead,) = await settled(observer, store, [ghost.id])
            assert dead.status == "dead" and dead.last_error is not None and "unknown subscription" in dead.last_error
            await observer.until(lambda o: o.dead != [])  # told just after the write, which the read may precede
            assert observer.dead == ["unknown_subscription"]
            await audit.until(lambda a: len(a.retries(paused.id)) >= 1)  # held, and its retry written
            assert "disabled" in observer.failed
            held = await trio.to_thread.run_sync(store.delivery, paused.id)
            assert held is not None and held.status == "pending" and held.last_error == "subscription disabled"
            assert receiver.received == []
            current[0] = replace(current[0], enabled=True)
            await settled(observer, store, [paused.id])
    assert receiver.ids() == [paused.id]


async def test_mutual_tls_end_to_end(store: Database, receivers: MakeReceiver, pki: Pki) -> None:
    receiver = await receivers(tls=pki.server_context(require_client_cert=True))
    good = subscription(receiver.url, "good", ca_file=str(pki.ca), client_cert_file=str(pki.client_cert),
                        client_key_file=str(pki.client_key))  # fmt: skip
    bare = subscription(receiver.url, "bare", ca_file=str(pki.ca))
    ok, refused = delivery("good", "c1"), delivery("bare", "c1")
    queue(store, [ok, refused])
    observer = Recorder()
    async with delivering(store, [good, bare], observer=observer):
        await settled(observer, store, [ok.id])
        await observer.until(lambda o: len(o.failed) >= 2)  # the second attempt: the first's retry is written
        held = await trio.to_thread.run_sync(store.delivery, refused.id)
    assert held is not None and held.status == "pending" and held.attempts >= 2 and held.last_error
    assert set(observer.failed) == {"network"}
    assert receiver.ids() == [ok.id]


async def test_a_restart_loses_nothing(tmp_path: Path, receivers: MakeReceiver) -> None:
    """Killed mid-delivery (its outcome never recorded): after the lease, a new process sends it again."""
    url = f"sqlite:///{tmp_path}/restart.db"
    first = Database(url)
    first.migrate()
    receiver = await receivers()
    receiver.answer(Reply(delay=5.0))
    records = conversation("sub-1", "c1", 3)
    queue(first, records)
    fast = settings(lease=2.5)
    async with delivering(first, [subscription(receiver.url)], settings=fast):
        await receiver.until(lambda r: len(r.received) == 1, within=8.0)
    first.close()  # the "process" is gone; its lease on records[0] runs out 2.5 s after the claim
    second = Database(url)
    try:
        started = trio.current_time()
        async with delivering(second, [subscription(receiver.url)], settings=fast) as running:
            done = await settled(running.observer, second, [r.id for r in records])
        assert trio.current_time() - started > 1.5  # it waited for the lease
    finally:
        second.close()
    assert [r.status for r in done] == ["delivered"] * 3
    assert receiver.ids(answered=None) == [records[0].id, records[0].id, records[1].id, records[2].id]


class Returns:
    """The real outbox, telling the test each time the deliverer's call of ``method`` (in a worker
    thread) has returned: a state of the deliverer that no observer call announces."""

    def __init__(self, store: Database, method: str) -> None:
        self.store, self.method = store, method
        self.returned = 0
        self._news = trio.Event()

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.store, name)
        if name != self.method:
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            trio.from_thread.run_sync(self._heard)
            return result

        return call

    def _heard(self) -> None:
        self.returned += 1
        self._news.set()
        self._news = trio.Event()

    async def until(self, count: int, *, within: float = 8.0) -> None:
        """Until the call has returned ``count`` times."""
        with trio.fail_after(within):
            while self.returned < count:
                await self._news.wait()


async def test_woken_and_due_not_ticked(store: Database, receivers: MakeReceiver) -> None:
    """With a long tick, queued work starts on wake() and a retry on its due time."""
    receiver = await receivers()
    receiver.answer(Reply(500))
    watched = Returns(store, "next_due")
    async with delivering(watched, [subscription(receiver.url)], tick=30.0) as running:  # type: ignore[arg-type]
        await watched.until(1)  # its first round found nothing: it waits for the tick, a wake or a due time
        records = conversation("sub-1", "c1", 2)
        await trio.to_thread.run_sync(queue, store, records)
        started = trio.current_time()
        running.deliverer.wake()
        await settled(running.observer, store, [r.id for r in records])
        assert trio.current_time() - started < 1.5


async def test_cancelled_it_leaves_nothing_open(store: Database, receivers: MakeReceiver) -> None:
    receiver = await receivers()
    receiver.default = Reply(delay=5.0)
    queue(store, conversation("sub-1", "c1", 1) + conversation("sub-1", "c2", 1))
    started = trio.current_time()
    async with delivering(store, [subscription(receiver.url)]) as running:
        await receiver.until(lambda r: len(r.received) == 2, within=8.0)
        deliverer = running.deliverer
        assert deliverer.in_flight == 2 and deliverer.client.pools == 1
    assert trio.current_time() - started < 2.0  # cancelled at once, not after the sends
    assert deliverer.client.pools == 0


@pytest.mark.parametrize("lease", [2.5, 2.1])  # a delivery may wait 0.25 s for its target; or not at all
async def test_a_busy_target_hands_deliveries_back_before_their_lease_ends(
    store: Database, receivers: MakeReceiver, caplog: pytest.LogCaptureFixture, lease: float
) -> None:
    caplog.set_level(logging.DEBUG, logger="connector.webhooks")
    receiver = await receivers()
    receiver.default = Reply(delay=0.9)
    records = [delivery("sub-1", f"c{i}", 0) for i in range(3)]
    queue(store, records)
    # attempt budget 2 s, margin a tenth of the lease: what is left of the lease is the wait allowed
    async with delivering(
        store, [subscription(receiver.url)], settings=settings(concurrency=1, lease=lease)
    ) as running:
        done = await settled(running.observer, store, [r.id for r in records], within=9.0)
    assert [r.status for r in done] == ["delivered"] * 3
    assert sorted(receiver.ids(answered=None)) == sorted(r.id for r in records)  # none sent twice
    deferred = [vars(r)["why"] for r in caplog.records if r.getMessage() == "webhook deferred: target busy"]
    assert "held" in deferred and "waited" in deferred
    assert all(r.levelno < logging.WARNING for r in caplog.records)  # nothing went wrong on the way


@pytest.mark.slow
async def test_a_receiver_down_for_a_minute(store: Database, receivers: MakeReceiver) -> None:
    """The issue's outage at full length (the one slow test here): nothing lost, order kept."""
    receiver = await receivers()
    await receiver.down()
    records = [r for c in range(5) for r in conversation("sub-1", f"c{c}", 6)]
    queue(store, records)
    realistic = settings(timeout=2.0, retry_base=1.0, retry_max=10.0, lease=30.0)
    async with delivering(store, [subscription(receiver.url)], settings=realistic) as running:
        await trio.sleep(60.0)  # the outage's length is what this test is about: not a wait for anything
        await receiver.up()
        done = await settled(running.observer, store, [r.id for r in records], within=30.0)
    assert {r.status for r in done} == {"delivered"}
    in_order(receiver, records)


class Flaky:
    """The real outbox, but the first ``failures`` calls of ``method`` raise (a database blip)."""

    def __init__(self, store: Database, method: str, failures: int) -> None:
        self.store, self.method, self.failures = store, method, failures

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.store, name)
        if name != self.method:
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.failures > 0:
                self.failures -= 1
                raise OSError("database is away")
            return real(*args, **kwargs)

        return call


async def test_an_outcome_not_recorded_is_sent_again_after_the_lease(
    store: Database, receivers: MakeReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = await receivers()
    records = conversation("sub-1", "c1", 2)
    queue(store, records)
    flaky = Flaky(store, "delivered", 1)
    async with delivering(flaky, [subscription(receiver.url)], settings=settings(lease=2.5)) as running:  # type: ignore[arg-type]
        done = await settled(running.observer, store, [r.id for r in records])
    assert [r.status for r in done] == ["delivered", "delivered"]
    assert receiver.ids() == [records[0].id, records[0].id, records[1].id]  # at least once, same id, in order
    assert any(r.getMessage().startswith("webhook outcome not recorded") for r in caplog.records)


async def test_the_outbox_away_for_a_while(
    store: Database, receivers: MakeReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="connector.webhooks")
    receiver = await receivers()
    records = conversation("sub-1", "c1", 2)
    queue(store, records)
    flaky = Flaky(store, "claim_deliveries", 5)
    async with delivering(flaky, [subscription(receiver.url)], tick=0.1) as running:  # type: ignore[arg-type]
        await settled(running.observer, store, [r.id for r in records])
    assert receiver.ids() == [r.id for r in records]
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("webhook outbox cannot be read; retrying") == 1  # once per outage
    assert "webhook outbox readable again" in messages
