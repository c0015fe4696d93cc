"""The deliverer: one trio task that drains the store's outbox to the receivers, at least once.

Each round claims (in a worker thread) up to ``batch`` due heads of the (subscription,
conversation) queues, leased to this replica, and sends each in its own task. Only heads are
claimed, and the next of a queue only once its head is delivered or dead-lettered, so each
conversation's events arrive in order; different conversations and targets go in parallel.

* A target (scheme, host, port) has its own :class:`trio.CapacityLimiter` of ``concurrency`` and
  at most twice that many deliveries in hand. A claimed delivery beyond that is handed back, due
  again after a tick, so the claims that follow (oldest first) reach other targets' deliveries;
  so does one that waited for its target so long that its lease would run out before it is sent
  (rather than be sent twice). So a slow receiver delays its own deliveries and nobody else's,
  as long as ``batch`` exceeds twice the concurrency of every target that is slow at once. (The
  store counts a claim as an attempt, so a delivery handed back shows one attempt more than it
  made.)
* After an attempt: ``delivered``; or ``retry`` after an exponential back-off with full jitter
  (at least what ``Retry-After`` asked); or, once ``created_at + max_age`` has passed,
  ``dead_letter`` (re-drivable through the API). A delivery for a subscription that no longer
  exists is dead-lettered at once; one for a disabled subscription waits ``retry_max``.
* The outcome is written after the attempt; if that write fails (or the process dies), the lease
  runs out and the delivery is sent again with the same ``webhook-id``: at least once, never lost.

Between rounds the task sleeps until :meth:`Deliverer.wake` (the store's writer queued
deliveries, another delivery finished, a NOTIFY from another replica), the outbox's next due
time, or a one-second tick (deliveries queued by other replicas). Database calls run in worker
threads under the store's limiter and are never abandoned, so a cancelled deliverer leaves no
thread behind; its HTTP pools are closed on the way out.

Audit: one log line per outcome (INFO; a receiver's refusal and a dead letter at WARNING) with the
delivery and subscription ids, event, conversation, attempt, status or error class and latency;
never the payload.
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import trio

from ..store.records import Delivery, Subscription
from .client import Outcome, WebhookClient
from .ports import DeliveryQueue, NullWebhookObserver, WebhookObserver
from .settings import WebhookSettings

__all__ = ["Deliverer", "backoff", "target_of"]

log = logging.getLogger(__name__)

T = TypeVar("T")
_FLOOR = 0.05
"""Least pause when something is due but could not be claimed (leased elsewhere, or in flight here)."""
_CLOSE_TIMEOUT = 5.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


def backoff(
    attempts: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds before the next attempt: full jitter below ``min(cap, base * 2**(attempts-1))``, at
    least ``retry_after`` when the receiver gave one."""
    ceiling = min(cap, base * 2.0 ** min(max(attempts - 1, 0), 64))
    delay = uniform(0.0, ceiling)
    return max(delay, retry_after) if retry_after is not None else delay


def target_of(url: str) -> str:
    """``scheme://host:port``: what shares one concurrency limit."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    return f"{parts.scheme}://{host}:{port}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Deliverer:
    """The outbox's one consumer in this replica (see the module docstring)."""

    def __init__(
        self,
        queue: DeliveryQueue,
        subscriptions: Callable[[], Iterable[Subscription]],
        settings: WebhookSettings,
        limiter: trio.CapacityLimiter,
        *,
        observer: WebhookObserver | None = None,
        replica: str = "",
        client: WebhookClient | None = None,
        batch: int = 100,
        tick: float = 1.0,
        now: Callable[[], datetime] = _utc_now,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.queue = queue
        self.subscriptions = subscriptions
        self.settings = settings
        self.limiter = limiter
        self.observer: WebhookObserver = observer if observer is not None else NullWebhookObserver()
        self.replica = replica
        self._owns_client = client is None
        self.client = client or WebhookClient(timeout=settings.timeout, retry_max=settings.retry_max, now=now)
        self.batch = batch
        self.tick = tick
        self.now = now
        self.uniform = uniform
        self._targets: dict[str, trio.CapacityLimiter] = {}
        self._held: dict[str, int] = {}
        """Deliveries in hand per target (waiting for a place or being sent)."""
        self._in_flight: set[str] = set()
        self._released: dict[str, trio.Event] = {}
        """Set when the task holding a delivery lets it go (a claim may return it again before that)."""
        self._woken = trio.Event()
        self._backlog_at = -float("inf")
        self._failing = False

    # ------------------------------------------------------------- outside

    def wake(self) -> None:
        """Look at the outbox now (from the trio thread; elsewhere via ``trio.from_thread.run_sync``)."""
        self._woken.set()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def run(self) -> None:
        """Deliver until cancelled."""
        try:
            async with trio.open_nursery() as nursery:
                while True:
                    claimed = await self._round(nursery)
                    await self._pause(claimed)
        finally:
            if self._owns_client:
                with trio.move_on_after(_CLOSE_TIMEOUT, shield=True):
                    await self.client.aclose()

    # ------------------------------------------------------------- rounds

    async def _db(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await trio.to_thread.run_sync(functools.partial(call, *args, **kwargs), limiter=self.limiter)

    async def _round(self, nursery: trio.Nursery) -> bool:
        """Claim what is due (as much as there is room for) and start sending it; anything claimed?"""
        await self._sample_backlog()
        room = self.batch - len(self._in_flight)
        if room <= 0:
            return False
        lease_ends = trio.current_time() + self.settings.lease
        try:
            known = {subscription.id: subscription for subscription in self.subscriptions()}
            claimed = await self._db(
                self.queue.claim_deliveries,
                now=self.now(), lease=self.settings.lease, limit=room, replica=self.replica,
            )  # fmt: skip
        except Exception as exc:
            self._failed("webhook outbox cannot be read; retrying", exc)
            return False
        self._recovered()
        for delivery in claimed:
            if delivery.id in self._in_flight:
                # Claimed again before the task holding it let go (its retry was written, then this
                # claim came first): send this claim once that task is done, or it would sit leased.
                nursery.start_soon(self._after_release, delivery, known, lease_ends)
                continue
            self._start(nursery, delivery, known, lease_ends)
        return bool(claimed)

    async def _after_release(self, delivery: Delivery, known: dict[str, Subscription], lease_ends: float) -> None:
        released = self._released.get(delivery.id)
        if released is not None:
            await released.wait()
        async with trio.open_nursery() as nursery:
            self._start(nursery, delivery, known, lease_ends)

    def _start(
        self, nursery: trio.Nursery, delivery: Delivery, known: dict[str, Subscription], lease_ends: float
    ) -> None:
        self._in_flight.add(delivery.id)
        self._released[delivery.id] = trio.Event()
        subscription = known.get(delivery.subscription_id)
        target = target_of(subscription.url) if subscription is not None and subscription.enabled else None
        if target is not None and self._held.get(target, 0) >= 2 * self.settings.concurrency:
            nursery.start_soon(self._hand_back, delivery, subscription, "held")
            return
        if target is not None:
            self._held[target] = self._held.get(target, 0) + 1
        nursery.start_soon(self._deliver, delivery, subscription, target, lease_ends)

    async def _pause(self, claimed: bool) -> None:
        """Until woken, the next due time, or the tick (whichever is first)."""
        if not self._woken.is_set():
            delay = self.tick
            if len(self._in_flight) < self.batch:
                now = self.now()
                try:
                    due = await self._db(self.queue.next_due, now=now)
                except Exception as exc:
                    self._failed("webhook outbox cannot be read; retrying", exc)
                    due = None
                if due is not None:
                    delay = min(delay, max((due - now).total_seconds(), 0.0 if claimed else _FLOOR))
            with trio.move_on_after(delay):
                await self._woken.wait()
        self._woken = trio.Event()

    async def _sample_backlog(self) -> None:
        if trio.current_time() - self._backlog_at < self.tick:
            return
        self._backlog_at = trio.current_time()
        try:
            count = await self._db(self.queue.pending_count)
        except Exception as exc:
            self._failed("webhook outbox cannot be read; retrying", exc)
            return
        self.observer.webhook_backlog(count)

    def _failed(self, message: str, exc: Exception) -> None:
        if not self._failing:  # once per outage, not once per round
            log.warning(message, extra={"error": type(exc).__name__, "detail": str(exc)[:200]})
        self._failing = True

    def _recovered(self) -> None:
        if self._failing:
            log.info("webhook outbox readable again")
        self._failing = False

    # ------------------------------------------------------------- one delivery

    async def _deliver(
        self, delivery: Delivery, subscription: Subscription | None, target: str | None, lease_ends: float
    ) -> None:
        try:
            if subscription is None:
                await self._dead(delivery, None, "unknown_subscription", "unknown subscription (deleted?)")
                return
            if target is None:  # disabled: wait as if it had asked for retry_max
                disabled = Outcome(False, 0.0, reason="disabled", error="subscription disabled",
                                   retry_after=self.settings.retry_max)  # fmt: skip
                await self._settle(delivery, subscription, disabled)
                return
            limiter = self._targets.setdefault(target, trio.CapacityLimiter(self.settings.concurrency))
            margin = min(5.0, self.settings.lease / 10)
            if not await _acquire(limiter, lease_ends - trio.current_time() - self.client.attempt_budget - margin):
                await self._hand_back(delivery, subscription, "waited")
                return
            try:
                outcome = await self.client.send(subscription, delivery)
            finally:
                limiter.release()
            await self._settle(delivery, subscription, outcome)
        except Exception as exc:  # a database call failed: the lease runs out and it is sent again
            log.warning(
                "webhook outcome not recorded; the delivery will be sent again when its lease ends",
                extra={**_fields(delivery, subscription), "error": type(exc).__name__, "detail": str(exc)[:200]},
            )
        finally:
            self._let_go(delivery.id)
            if target is not None:
                self._held[target] -= 1
            self.wake()  # the next of its queue may be due now

    def _let_go(self, delivery_id: str) -> None:
        self._in_flight.discard(delivery_id)
        released = self._released.pop(delivery_id, None)
        if released is not None:
            released.set()

    async def _hand_back(self, delivery: Delivery, subscription: Subscription | None, why: str) -> None:
        """Not sent: its target is saturated (``held``: it has twice its concurrency in hand already;
        ``waited``: no place came free for most of the lease). Due again after a tick, so other
        targets' deliveries are claimed meanwhile; its last error is kept."""
        try:
            due = self.now() + timedelta(seconds=self.tick)
            error = delivery.last_error or "deferred: target busy"
            await self._db(self.queue.retry, delivery.id, next_attempt_at=due, error=error)
            log.debug("webhook deferred: target busy", extra={**_fields(delivery, subscription), "why": why})
        except Exception as exc:
            log.warning(
                "webhook not handed back; it is sent when its lease ends",
                extra={**_fields(delivery, subscription), "error": type(exc).__name__, "detail": str(exc)[:200]},
            )
        finally:
            self._let_go(delivery.id)

    async def _settle(self, delivery: Delivery, subscription: Subscription, outcome: Outcome) -> None:
        now = self.now()
        fields = {**_fields(delivery, subscription), "status": outcome.status, "seconds": round(outcome.seconds, 3)}
        if outcome.delivered:
            await self._db(self.queue.delivered, delivery.id, now=now)
            self.observer.webhook_delivered((now - delivery.created_at).total_seconds(), delivery.attempts)
            log.info("webhook delivered", extra={**fields, "outcome": "delivered"})
            return
        reason = outcome.reason or "error"
        error = outcome.error or reason
        self.observer.webhook_attempt_failed(reason)
        dies = delivery.created_at + timedelta(seconds=self.settings.max_age)
        if now >= dies:
            await self._dead(delivery, subscription, "max_age", f"max age reached; last: {error}", fields)
            return
        wait = backoff(delivery.attempts, base=self.settings.retry_base, cap=self.settings.retry_max,
                       retry_after=outcome.retry_after, uniform=self.uniform)  # fmt: skip
        next_at = min(now + timedelta(seconds=wait), dies)  # the last try is at the max age
        await self._db(self.queue.retry, delivery.id, next_attempt_at=next_at, error=error)
        refused = reason == "refused"
        log.log(
            logging.WARNING if refused else logging.INFO,
            "webhook refused by the receiver; retrying" if refused else "webhook attempt failed; retrying",
            extra={**fields, "outcome": "retry", "reason": reason, "error": error, "retry_in": round(wait, 3)},
        )

    async def _dead(
        self, delivery: Delivery, subscription: Subscription | None, reason: str, error: str,
        fields: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        await self._db(self.queue.dead_letter, delivery.id, now=self.now(), error=error)
        self.observer.webhook_dead(reason)
        log.warning(
            "webhook dead-lettered",
            extra={**(fields or _fields(delivery, subscription)), "outcome": "dead", "reason": reason, "error": error},
        )


async def _acquire(limiter: trio.CapacityLimiter, within: float) -> bool:
    """Take a place at the target within ``within`` seconds (at once if one is free)."""
    try:
        limiter.acquire_nowait()
        return True
    except trio.WouldBlock:
        pass
    with trio.move_on_after(max(within, 0.0)):
        await limiter.acquire()
        return True
    return False


def _fields(delivery: Delivery, subscription: Subscription | None) -> dict[str, Any]:
    """What identifies a delivery in the audit log (never its payload)."""
    return {
        "delivery": delivery.id,
        "subscription": subscription.id if subscription is not None else delivery.subscription_id,
        "event": delivery.event,
        "conversation": delivery.conversation_id,
        "attempt": delivery.attempts,
    }
