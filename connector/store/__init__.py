"""The durable transcript store: what was sent to Genesys, per conversation, on SQLite or PostgreSQL.

* :mod:`connector.store.records` — the plain records the runtime writes and the control API reads.
* :mod:`connector.store.urls` — a store URL → the SQLAlchemy URL of the driver we ship.
* :mod:`connector.store.schema` — the tables (SQLAlchemy Core), the one source of the schema.
* :mod:`connector.store.database` — :class:`Database`, the synchronous, thread-safe API, and its
  Alembic migrations (``migrations/``, packaged with the code).

Synchronous on purpose: the trio runtime calls it from worker threads, one short transaction per
call, so the same code serves the embedded SQLite file and a PostgreSQL shared by replicas.
"""

from connector.store.database import (
    APPLIED_CHANNEL,
    CONFIG_CHANNEL,
    CONTROL_CHANNEL,
    WEBHOOK_CHANNEL,
    Backend,
    Database,
    Listener,
    ListenerLost,
)
from connector.store.records import (
    WEBHOOK_EVENTS,
    ControlRecord,
    ControlState,
    Conversation,
    ConversationPage,
    ConversationSummary,
    Delivery,
    PhraseRule,
    SessionRecord,
    Subscription,
    TranslationRecord,
    UtteranceRecord,
    WebhookAuth,
    WordRecord,
)
from connector.store.urls import StoreConfigError, engine_url

__all__ = [
    "APPLIED_CHANNEL",
    "CONFIG_CHANNEL",
    "CONTROL_CHANNEL",
    "WEBHOOK_CHANNEL",
    "WEBHOOK_EVENTS",
    "Backend",
    "ControlRecord",
    "ControlState",
    "Conversation",
    "ConversationPage",
    "ConversationSummary",
    "Database",
    "Delivery",
    "Listener",
    "ListenerLost",
    "PhraseRule",
    "SessionRecord",
    "StoreConfigError",
    "Subscription",
    "TranslationRecord",
    "UtteranceRecord",
    "WebhookAuth",
    "WordRecord",
    "engine_url",
]
