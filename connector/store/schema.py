"""The store's tables: the single source of truth for the schema (SQLAlchemy Core, no ORM).

One schema serves SQLite (the embedded default) and PostgreSQL (several replicas sharing one
database); every type here maps to both without dialect switches. The migrations
(``migrations/versions/``: ``0001_initial.py``, ``0002_webhooks.py``) create exactly these tables,
and a test compares a migrated database with :data:`metadata`, so a change here needs a new migration.

``sessions``
    One row per AudioHook session (``SessionRecord``), keyed by ``session_id``; ``participant``
    and ``channels`` are JSON. Indexed by ``conversation_id``, ``started_at`` (listing) and
    ``ended_at`` (purge).
``utterances``
    One row per final sent to Genesys (``UtteranceRecord``), with a surrogate ``id`` so an export
    can page by ``(sent_at, id)``; unique ``(session_id, utterance_id)`` makes a retried batch a
    no-op; ``words`` is a JSON list of ``{value, offset, duration, confidence}``; the translation
    columns are null when the call was not translated. The session must be written no later than
    (in the same batch as) its first utterance: ``session_id`` references ``sessions`` and
    deleting a session deletes its utterances.
``controls``
    The control API's start/stop request per conversation (``ControlRecord``), keyed by
    ``conversation_id``; ``version`` grows by one per request.
``nonces``
    Signature nonces seen by any replica, keyed by the nonce, until ``expires_at``.
``webhook_subscriptions``
    Subscriptions created through the control API (``Subscription``), keyed by ``id``; ``events``
    and ``roles`` are sorted JSON lists, ``auth`` a JSON object of the ``WebhookAuth`` fields.
    Secrets (signing secret, header value, OAuth client secret) are stored as given, so the
    database is as sensitive as the configuration that would otherwise hold them.
``webhook_deliveries``
    The outbox: one row per event to one subscription (``Delivery``), inserted in the same
    transaction as the utterance it reports. ``sequence`` (the autoincrement key) orders the
    deliveries of a ``(subscription_id, conversation_id)`` pair; ``id`` is the unique
    ``webhook-id``. ``leased_until`` and ``replica`` mark a delivery claimed by a deliverer.
    No foreign key: a subscription may come from the configuration file rather than the table.
``phrase_rules``
    Phrase rules created through the control API (``PhraseRule``), keyed by ``id``; ``phrases``
    is a JSON list (in order), ``roles`` and ``languages`` sorted JSON lists.

Times are :class:`UtcDateTime`: timezone-aware UTC in and out on both backends (SQLite keeps no
zone, so the value is converted to UTC before it is stored and marked UTC when read back; its
text form has a fixed width, so ranges and ordering compare correctly there too).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

__all__ = [
    "UtcDateTime",
    "controls",
    "metadata",
    "nonces",
    "phrase_rules",
    "sessions",
    "utterances",
    "webhook_deliveries",
    "webhook_subscriptions",
]

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names fixed by rule, so a later migration can name what it alters on either backend."""

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC; a naive value is refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"the store needs timezone-aware datetimes, got naive {value.isoformat()}")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# A 64-bit id on PostgreSQL; SQLite's rowid alias must be spelt INTEGER to autoincrement.
_Id = BigInteger().with_variant(Integer(), "sqlite")

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", Text, primary_key=True),
    Column("conversation_id", Text, nullable=False, index=True),
    Column("organization_id", Text, nullable=False),
    Column("correlation_id", Text, nullable=False),
    Column("started_at", UtcDateTime, nullable=False, index=True),
    Column("participant", JSON, nullable=False),
    Column("channels", JSON, nullable=False),
    Column("media_format", Text),
    Column("language", Text),
    Column("engine", Text),
    Column("replica", Text, nullable=False),
    Column("transcribing", Boolean, nullable=False),
    Column("control_version", Integer, nullable=False),
    Column("audio_seconds", Float, nullable=False),
    Column("transcribed_seconds", Float, nullable=False),
    Column("transcripts", Integer, nullable=False),
    Column("ended_at", UtcDateTime, index=True),
    Column("outcome", Text),
    Column("disconnect_reason", Text),
    Column("updated_at", UtcDateTime),
)

utterances = Table(
    "utterances",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("session_id", Text, ForeignKey("sessions.session_id", ondelete="CASCADE"), nullable=False),
    Column("conversation_id", Text, nullable=False, index=True),
    Column("utterance_id", Text, nullable=False),
    Column("channel", Integer, nullable=False),
    Column("role", Text, nullable=False),
    Column("offset_seconds", Float, nullable=False),
    Column("duration_seconds", Float, nullable=False),
    Column("text", Text, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("language", Text),
    Column("sent_at", UtcDateTime, nullable=False),
    Column("words", JSON, nullable=False),
    Column("translation_text", Text),
    Column("translation_language", Text),
    Column("engine", Text, nullable=False),
    UniqueConstraint("session_id", "utterance_id"),
    Index("ix_utterances_sent_at_id", "sent_at", "id"),
)

controls = Table(
    "controls",
    metadata,
    Column("conversation_id", Text, primary_key=True),
    Column("state", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False, index=True),
    Column("language", Text),
    Column("engine", Text),
    Column("customer_id", Text),
    Column("agent_id", Text),
    Column("options", JSON, nullable=False),
    CheckConstraint("state IN ('started', 'stopped')", name="state"),
)

nonces = Table(
    "nonces",
    metadata,
    Column("key", Text, primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("url", Text, nullable=False),
    Column("events", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("auth", JSON, nullable=False),
    Column("organization_id", Text),
    Column("conversation_id", Text),
    Column("roles", JSON, nullable=False),
    Column("source", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("sequence", _Id, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False),
    Column("subscription_id", Text, nullable=False),
    Column("conversation_id", Text, nullable=False),
    Column("event", Text, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, index=True),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("last_error", Text),
    Column("delivered_at", UtcDateTime),
    Column("leased_until", UtcDateTime),
    Column("replica", Text),
    UniqueConstraint("id"),
    CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="status"),
    # Is there a pending delivery ahead of this one in its queue? (the head test of a claim)
    Index("ix_webhook_deliveries_queue", "subscription_id", "conversation_id", "status", "sequence"),
    # Pending deliveries in sequence order (claims) and dead letters newest first.
    Index("ix_webhook_deliveries_status_sequence", "status", "sequence"),
)

phrase_rules = Table(
    "phrase_rules",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("phrases", JSON, nullable=False),
    Column("pattern", Text),
    Column("roles", JSON, nullable=False),
    Column("languages", JSON, nullable=False),
    Column("on_partials", Boolean, nullable=False),
    Column("source", Text, nullable=False),
)
