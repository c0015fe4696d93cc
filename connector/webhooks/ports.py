"""What the deliverer needs of the world: the store's outbox and the observer's hooks.

Both are Protocols, so this package depends on no concrete store or metrics class:
:class:`connector.store.Database` is a :class:`DeliveryQueue`, and
:class:`connector.observe.Observer` (with :mod:`connector.metrics`) gains the
:class:`WebhookObserver` hooks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from ..store.records import Delivery

__all__ = ["DeliveryQueue", "NullWebhookObserver", "WebhookObserver"]


class DeliveryQueue(Protocol):
    """The outbox (``connector.store.Database``): synchronous and thread-safe, called in worker threads."""

    def claim_deliveries(self, *, now: datetime, lease: float, limit: int, replica: str) -> list[Delivery]:
        """Up to ``limit`` heads of the (subscription, conversation) queues that are due and not leased,
        leased to ``replica`` for ``lease`` seconds, their ``attempts`` already counting this one."""
        ...

    def delivered(self, id: str, *, now: datetime) -> None: ...

    def retry(self, id: str, *, next_attempt_at: datetime, error: str) -> None: ...

    def dead_letter(self, id: str, *, now: datetime, error: str) -> None: ...

    def next_due(self, *, now: datetime) -> datetime | None:
        """When the earliest pending delivery falls due (``None``: nothing pending)."""
        ...

    def pending_count(self) -> int: ...


class WebhookObserver(Protocol):
    """The deliverer's hooks into ``/metrics``; cheap, and they never raise."""

    def webhook_delivered(self, seconds_since_created: float, attempts: int) -> None:
        """A delivery reached its receiver, ``seconds_since_created`` after the event was queued."""

    def webhook_attempt_failed(self, reason: str) -> None:
        """One attempt failed (``reason``: :data:`connector.webhooks.client.Reason`, or ``disabled``)."""

    def webhook_dead(self, reason: str) -> None:
        """A delivery was dead-lettered (``max_age`` or ``unknown_subscription``)."""

    def webhook_backlog(self, count: int) -> None:
        """Pending deliveries in the outbox (all replicas'), sampled about once a second."""


class NullWebhookObserver:
    """Observes nothing."""

    def webhook_delivered(self, seconds_since_created: float, attempts: int) -> None:
        pass

    def webhook_attempt_failed(self, reason: str) -> None:
        pass

    def webhook_dead(self, reason: str) -> None:
        pass

    def webhook_backlog(self, count: int) -> None:
        pass
