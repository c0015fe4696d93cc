"""The webhook outbox (#12): deliveries queued with the transcript, claimed, retried, dead-lettered.

A delivery is written by :meth:`Database.write` in the same transaction as the utterance it
reports, so a final that is stored has its deliveries queued (nothing is lost at SIGKILL), and a
retried batch inserts each delivery once (``id`` is unique). On PostgreSQL that transaction also
notifies :data:`WEBHOOK_CHANNEL`, so idle deliverers wake.

Each ``(subscription_id, conversation_id)`` pair is a queue in ``sequence`` order (the table's
autoincrement key, so insertion order). Only its *head* may be claimed: the pending delivery
with the lowest sequence, once it is due and not leased, and only while no other delivery of the
pair holds a lease (a redriven dead letter waits for the one in flight). A claim leases the
delivery to one replica for ``lease`` seconds; the deliverer then reports :meth:`delivered`,
:meth:`retry` (the same head again, later) or :meth:`dead_letter` (the next one becomes the head).
A lease that runs out (a replica died mid-delivery) lets another replica claim it: delivery is at
least once, and the receiver de-duplicates on ``id``.

On PostgreSQL replicas claim concurrently: the candidates are locked ``FOR UPDATE SKIP LOCKED``
and leased in the same transaction, so no two claimers get one delivery while its lease holds
(a head locked by another claimer is skipped, and the rest of its pair is not a head, so the
pair sits this round out). SQLite serves one process; its claim is one ``BEGIN IMMEDIATE``
transaction.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Delete,
    Select,
    bindparam,
    case,
    delete,
    exists,
    func,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.engine import Connection, Row

from connector.store import schema
from connector.store.base import StoreBase, aware
from connector.store.records import Delivery
from connector.store.schema import UtcDateTime

__all__ = ["WEBHOOK_CHANNEL", "DeliveryStore"]

WEBHOOK_CHANNEL = "connector_webhooks"
"""Notified (empty payload) when deliveries were queued or a dead letter was redriven (PostgreSQL)."""

_deliveries = schema.webhook_deliveries
_d = _deliveries.c


def _others_in_queue() -> tuple[Any, ColumnElement[bool]]:
    """Another pending delivery of the same pair as the outer row (an alias and the condition)."""
    other = _deliveries.alias("other")
    same = (
        (other.c.subscription_id == _d.subscription_id)
        & (other.c.conversation_id == _d.conversation_id)
        & (other.c.status == "pending")
        & (other.c.sequence != _d.sequence)
    )
    return other, same


@functools.lru_cache(maxsize=8)
def _claimable(limit: int) -> Select[tuple[int]]:
    """The claim query, built once per ``limit`` with ``now`` bound at execution: one built per
    claim (its alias) left ~200 objects of cyclic garbage per round for the collector."""
    now = bindparam("now", type_=UtcDateTime())
    other, same = _others_in_queue()
    blocked = exists().where(same, or_(other.c.sequence < _d.sequence, other.c.leased_until >= now))
    return (
        select(_d.sequence)
        .where(
            _d.status == "pending",
            _d.next_attempt_at <= now,
            or_(_d.leased_until.is_(None), _d.leased_until < now),
            ~blocked,
        )
        .order_by(_d.sequence)
        .limit(limit)
        .with_for_update(skip_locked=True, of=_deliveries)  # rendered on PostgreSQL only
    )


class DeliveryStore(StoreBase):
    """The outbox half of :class:`connector.store.Database` (see the module docstring)."""

    def _queue_deliveries(self, connection: Connection, deliveries: Sequence[Delivery]) -> int:
        """Insert ``deliveries`` (once per ``id``) in ``connection``'s transaction, in the order
        given; notify :data:`WEBHOOK_CHANNEL` if any was new. Returns how many were new."""
        once: dict[str, Delivery] = {}
        for record in deliveries:
            once.setdefault(record.id, record)  # as in the table: the first stays
        if not once:
            return 0
        rows = [_delivery_row(record) for record in once.values()]
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT here.
        inserted = connection.execute(
            self._insert(_deliveries).on_conflict_do_nothing().returning(_d.sequence), rows
        ).all()
        if inserted:
            self._signal(connection, WEBHOOK_CHANNEL)
        return len(inserted)

    def _purge_deliveries(self, before: datetime, chunk_size: int) -> Delete:
        """One chunk of delivered and dead deliveries created before ``before`` (for ``purge``)."""
        old = select(_d.sequence).where(_d.status.in_(("delivered", "dead")), _d.created_at < before)
        return delete(_deliveries).where(_d.sequence.in_(old.limit(chunk_size)))

    # -- the deliverer's loop -------------------------------------------------------------------

    def claim_deliveries(self, *, now: datetime, lease: float, limit: int, replica: str) -> list[Delivery]:
        """Lease up to ``limit`` claimable heads (see the module docstring) to ``replica`` until
        ``now + lease`` seconds, counting an attempt on each; oldest (lowest sequence) first,
        returned with the new ``attempts``."""
        aware(now, "now")
        if lease <= 0:
            raise ValueError("lease must be positive")
        if limit < 1:
            raise ValueError("limit must be at least 1")
        with self._transaction(write=True) as connection:
            chosen = list(connection.execute(_claimable(limit), {"now": now}).scalars())
            if not chosen:
                return []
            rows = connection.execute(
                update(_deliveries)
                .where(_d.sequence.in_(chosen))
                .values(leased_until=now + timedelta(seconds=lease), replica=replica, attempts=_d.attempts + 1)
                .returning(*_d)
            ).all()
        return sorted((_delivery(row) for row in rows), key=lambda delivery: delivery.sequence)

    def delivered(self, id: str, *, now: datetime) -> None:
        """The receiver acknowledged ``id``: it is done (its lease cleared, ``delivered_at = now``),
        even if a late replica reports it after it was dead-lettered. A delivery marked delivered
        already keeps its first ``delivered_at``."""
        aware(now, "now")
        with self._transaction(write=True) as connection:
            connection.execute(
                update(_deliveries)
                .where(_d.id == id, _d.status != "delivered")
                .values(status="delivered", delivered_at=now, leased_until=None)
            )

    def retry(self, id: str, *, next_attempt_at: datetime, error: str) -> None:
        """The attempt failed: try ``id`` again at ``next_attempt_at`` (still the head of its
        queue; its lease cleared, ``last_error`` recorded). Ignored unless it is pending."""
        aware(next_attempt_at, "next_attempt_at")
        with self._transaction(write=True) as connection:
            connection.execute(
                update(_deliveries)
                .where(_d.id == id, _d.status == "pending")
                .values(next_attempt_at=next_attempt_at, last_error=error, leased_until=None)
            )

    def dead_letter(self, id: str, *, now: datetime, error: str) -> None:
        """Give up on ``id`` (status ``dead``, ``last_error`` recorded, ``next_attempt_at = now``:
        when it died); the next delivery of its pair becomes the head. Ignored unless pending."""
        aware(now, "now")
        with self._transaction(write=True) as connection:
            connection.execute(
                update(_deliveries)
                .where(_d.id == id, _d.status == "pending")
                .values(status="dead", last_error=error, next_attempt_at=now, leased_until=None)
            )

    def next_due(self, *, now: datetime) -> datetime | None:
        """When the earliest head becomes claimable (its ``next_attempt_at``, or later while a
        delivery of its pair holds a lease: when that lease runs out); ``None`` when nothing is
        pending. A time at or before ``now`` means a claim would find work now."""
        aware(now, "now")
        other, same = _others_in_queue()
        ahead = exists().where(same, other.c.sequence < _d.sequence)
        leases = _deliveries.alias("leases")
        lease_end = (
            select(func.max(leases.c.leased_until))
            .where(
                leases.c.subscription_id == _d.subscription_id,
                leases.c.conversation_id == _d.conversation_id,
                leases.c.status == "pending",
                leases.c.leased_until >= now,
            )
            .scalar_subquery()
        )
        wake = case((lease_end > _d.next_attempt_at, lease_end), else_=_d.next_attempt_at)
        query = select(type_coerce(func.min(wake), UtcDateTime())).where(_d.status == "pending", ~ahead)
        with self._transaction() as connection:
            due: datetime | None = connection.execute(query).scalar_one()
        return due

    # -- reads and the dead letters -------------------------------------------------------------

    def pending_count(self) -> int:
        with self._transaction() as connection:
            count: int = connection.execute(
                select(func.count()).select_from(_deliveries).where(_d.status == "pending")
            ).scalar_one()
        return count

    def delivery(self, id: str) -> Delivery | None:
        with self._transaction() as connection:
            row = connection.execute(select(_deliveries).where(_d.id == id)).first()
        return None if row is None else _delivery(row)

    def dead_letters(self, *, cursor: str | None, limit: int) -> tuple[list[Delivery], str | None]:
        """Dead deliveries, newest (highest sequence) first, ``limit`` at a time; pass the
        returned cursor back for the next page (``None`` on the last). A cursor that is not one
        of ours is a ``ValueError``."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = select(_deliveries).where(_d.status == "dead")
        if cursor is not None:
            query = query.where(_d.sequence < _decode_cursor(cursor))
        with self._transaction() as connection:
            rows = connection.execute(query.order_by(_d.sequence.desc()).limit(limit + 1)).all()
        items = [_delivery(row) for row in rows[:limit]]
        return items, _encode_cursor(items[-1].sequence) if len(rows) > limit else None

    def redrive(self, id: str, *, now: datetime) -> Delivery | None:
        """Make the dead delivery ``id`` pending again, due at ``now``, with a fresh attempt
        count (``last_error`` kept, same ``id``, same place in its queue); notify
        :data:`WEBHOOK_CHANNEL`. ``None`` if ``id`` is unknown or not dead."""
        aware(now, "now")
        with self._transaction(write=True) as connection:
            row = connection.execute(
                update(_deliveries)
                .where(_d.id == id, _d.status == "dead")
                .values(status="pending", next_attempt_at=now, attempts=0, leased_until=None, delivered_at=None)
                .returning(*_d)
            ).first()
            if row is None:
                return None
            self._signal(connection, WEBHOOK_CHANNEL)
        return _delivery(row)


# -- records <-> rows ------------------------------------------------------------------------------


def _delivery_row(record: Delivery) -> dict[str, Any]:
    return {
        "id": record.id,
        "subscription_id": record.subscription_id,
        "conversation_id": record.conversation_id,
        "event": record.event,
        "payload": dict(record.payload),
        "created_at": record.created_at,
        "next_attempt_at": record.next_attempt_at,
        "attempts": record.attempts,
        "status": record.status,
        "last_error": record.last_error,
        "delivered_at": record.delivered_at,
        "leased_until": None,
        "replica": None,
    }


def _delivery(row: Row[Any]) -> Delivery:
    m = row._mapping
    return Delivery(
        id=m["id"],
        subscription_id=m["subscription_id"],
        conversation_id=m["conversation_id"],
        event=m["event"],
        payload=dict(m["payload"]),
        created_at=m["created_at"],
        next_attempt_at=m["next_attempt_at"],
        sequence=m["sequence"],
        attempts=m["attempts"],
        status=m["status"],
        last_error=m["last_error"],
        delivered_at=m["delivered_at"],
    )


# -- the dead letters' cursor ----------------------------------------------------------------------


def _encode_cursor(sequence: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(["dead", sequence]).encode()).decode("ascii")


def _decode_cursor(cursor: str) -> int:
    try:
        tag, sequence = json.loads(base64.b64decode(cursor.encode("ascii"), altchars=b"-_", validate=True))
        if tag != "dead" or type(sequence) is not int or sequence < 1:
            raise ValueError(cursor)
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise ValueError("invalid cursor: pass a page's cursor back unchanged") from None
    return sequence
