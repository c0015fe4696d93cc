"""Webhook subscriptions and phrase rules created through the control API (#12).

Small tables every replica holds in memory: a change notifies :data:`CONFIG_CHANNEL` on
PostgreSQL (when it commits), and each replica reloads them. Subscriptions keep their secrets as
given (``auth`` is JSON), so the database is as sensitive as the configuration file.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.engine import Row

from connector.store import schema
from connector.store.base import StoreBase
from connector.store.records import PhraseRule, Subscription, WebhookAuth

__all__ = ["CONFIG_CHANNEL", "SubscriptionStore"]

CONFIG_CHANNEL = "connector_config"
"""Notified (empty payload) when a subscription or phrase rule was stored or deleted (PostgreSQL)."""

_AUTH_FIELDS = tuple(f.name for f in fields(WebhookAuth))


class SubscriptionStore(StoreBase):
    """The subscriptions and phrase rules of :class:`connector.store.Database`."""

    def _put(self, table: Table, row: dict[str, Any]) -> Row[Any]:
        """Upsert ``row`` by ``id``, keeping an existing row's ``created_at``; notify."""
        upsert = self._insert(table).values(row)
        keep = ("id", "created_at")
        statement = upsert.on_conflict_do_update(
            index_elements=[table.c.id], set_={name: upsert.excluded[name] for name in row if name not in keep}
        ).returning(*table.c)
        with self._transaction(write=True) as connection:
            stored = connection.execute(statement).one()
            self._signal(connection, CONFIG_CHANNEL)
        return stored

    # -- subscriptions --------------------------------------------------------------------------

    def put_subscription(self, s: Subscription) -> Subscription:
        """Store ``s`` by ``id``, replacing every field of an existing one but its ``created_at``;
        returns what is stored."""
        return _subscription(self._put(schema.webhook_subscriptions, _subscription_row(s)))

    def subscription(self, id: str) -> Subscription | None:
        t = schema.webhook_subscriptions
        with self._transaction() as connection:
            row = connection.execute(select(t).where(t.c.id == id)).first()
        return None if row is None else _subscription(row)

    def subscriptions(self) -> list[Subscription]:
        """Every stored subscription, oldest first."""
        t = schema.webhook_subscriptions
        with self._transaction() as connection:
            rows = connection.execute(select(t).order_by(t.c.created_at, t.c.id)).all()
        return [_subscription(row) for row in rows]

    def delete_subscription(self, id: str) -> bool:
        """Delete subscription ``id`` and its pending deliveries (nothing more goes to it; the
        delivered and dead ones stay until ``purge``). False if there was no such subscription."""
        t, d = schema.webhook_subscriptions, schema.webhook_deliveries
        with self._transaction(write=True) as connection:
            if connection.execute(delete(t).where(t.c.id == id)).rowcount != 1:
                return False
            connection.execute(delete(d).where(d.c.subscription_id == id, d.c.status == "pending"))
            self._signal(connection, CONFIG_CHANNEL)
        return True

    # -- phrase rules ---------------------------------------------------------------------------

    def put_phrase_rule(self, rule: PhraseRule) -> PhraseRule:
        """Store ``rule`` by ``id``, replacing every field of an existing one but its
        ``created_at``; returns what is stored."""
        return _phrase_rule(self._put(schema.phrase_rules, _phrase_rule_row(rule)))

    def phrase_rule(self, id: str) -> PhraseRule | None:
        t = schema.phrase_rules
        with self._transaction() as connection:
            row = connection.execute(select(t).where(t.c.id == id)).first()
        return None if row is None else _phrase_rule(row)

    def phrase_rules(self) -> list[PhraseRule]:
        """Every stored phrase rule, oldest first."""
        t = schema.phrase_rules
        with self._transaction() as connection:
            rows = connection.execute(select(t).order_by(t.c.created_at, t.c.id)).all()
        return [_phrase_rule(row) for row in rows]

    def delete_phrase_rule(self, id: str) -> bool:
        t = schema.phrase_rules
        with self._transaction(write=True) as connection:
            if connection.execute(delete(t).where(t.c.id == id)).rowcount != 1:
                return False
            self._signal(connection, CONFIG_CHANNEL)
        return True


# -- records <-> rows ------------------------------------------------------------------------------


def _subscription_row(record: Subscription) -> dict[str, Any]:
    auth = {name: getattr(record.auth, name) for name in _AUTH_FIELDS}
    return {
        "id": record.id,
        "url": record.url,
        "events": sorted(record.events),
        "created_at": record.created_at,
        "auth": {name: value for name, value in auth.items() if value is not None},
        "organization_id": record.organization_id,
        "conversation_id": record.conversation_id,
        "roles": sorted(record.roles),
        "source": record.source,
        "enabled": record.enabled,
    }


def _subscription(row: Row[Any]) -> Subscription:
    m = row._mapping
    auth: dict[str, Any] = m["auth"]
    return Subscription(
        id=m["id"],
        url=m["url"],
        events=frozenset(m["events"]),
        created_at=m["created_at"],
        auth=WebhookAuth(**{name: value for name, value in auth.items() if name in _AUTH_FIELDS}),
        organization_id=m["organization_id"],
        conversation_id=m["conversation_id"],
        roles=frozenset(m["roles"]),
        source=m["source"],
        enabled=m["enabled"],
    )


def _phrase_rule_row(record: PhraseRule) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "created_at": record.created_at,
        "phrases": list(record.phrases),
        "pattern": record.pattern,
        "roles": sorted(record.roles),
        "languages": sorted(record.languages),
        "on_partials": record.on_partials,
        "source": record.source,
    }


def _phrase_rule(row: Row[Any]) -> PhraseRule:
    m = row._mapping
    return PhraseRule(
        id=m["id"],
        name=m["name"],
        created_at=m["created_at"],
        phrases=tuple(m["phrases"]),
        pattern=m["pattern"],
        roles=frozenset(m["roles"]),
        languages=frozenset(m["languages"]),
        on_partials=m["on_partials"],
        source=m["source"],
    )
