"""What the store keeps, as plain frozen records (no SQL here).

The runtime builds these from what it sent to Genesys (an utterance is recorded when its final
is written on the socket, so the store never holds a transcript Genesys did not get) and from
the session's report; the control API reads them back. Times are timezone-aware UTC
``datetime`` values; offsets and durations are seconds on the call's stream timeline, exactly
as in the transcript event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "WEBHOOK_EVENTS",
    "ControlRecord",
    "ControlState",
    "Conversation",
    "ConversationPage",
    "ConversationSummary",
    "Delivery",
    "DeliveryStatus",
    "PhraseRule",
    "SessionRecord",
    "Subscription",
    "TranslationRecord",
    "UtteranceRecord",
    "WebhookAuth",
    "WebhookEvent",
    "WordRecord",
]

ControlState = Literal["started", "stopped"]


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One AudioHook session (one WebSocket) of a conversation; upserted by ``session_id``
    while the call runs (``outcome`` is ``None`` then) and once more when it ends."""

    session_id: str
    conversation_id: str
    organization_id: str
    correlation_id: str
    started_at: datetime
    participant: Mapping[str, Any] = field(default_factory=dict)
    """``open.parameters.participant`` as received (id, ani, aniName, dnis)."""
    channels: Sequence[str] = ()
    """Role of each channel, by index (``external``, ``internal``)."""
    media_format: str | None = None
    language: str | None = None
    engine: str | None = None
    replica: str = ""
    """Which server process holds (or held) the session."""
    transcribing: bool = False
    control_version: int = 0
    """The version of the conversation's control applied by the session (0: none)."""
    audio_seconds: float = 0.0
    transcribed_seconds: float = 0.0
    transcripts: int = 0
    """Finals sent to Genesys."""
    ended_at: datetime | None = None
    outcome: str | None = None
    disconnect_reason: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WordRecord:
    value: str
    offset: float
    duration: float
    confidence: float


@dataclass(frozen=True, slots=True)
class TranslationRecord:
    """The text sent to Genesys when the call was translated (``UtteranceRecord.text`` is what was said)."""

    text: str
    language: str


@dataclass(frozen=True, slots=True)
class UtteranceRecord:
    """One final transcript as sent to Genesys (inserted once: ``(session_id, utterance_id)`` is unique)."""

    session_id: str
    conversation_id: str
    utterance_id: str
    channel: int
    role: str
    offset: float
    duration: float
    text: str
    confidence: float
    language: str | None
    sent_at: datetime
    words: Sequence[WordRecord] = ()
    translation: TranslationRecord | None = None
    engine: str = ""


@dataclass(frozen=True, slots=True)
class ControlRecord:
    """What the control API asked for a conversation; ``version`` grows by one per request."""

    conversation_id: str
    state: ControlState
    version: int
    updated_at: datetime
    language: str | None = None
    engine: str | None = None
    customer_id: str | None = None
    agent_id: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Conversation:
    """A conversation as retrieved: its sessions (oldest first) and every utterance in spoken
    order (by offset within a session, sessions in start order)."""

    conversation_id: str
    sessions: Sequence[SessionRecord]
    utterances: Sequence[UtteranceRecord]
    control: ControlRecord | None = None


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    conversation_id: str
    organization_id: str
    started_at: datetime
    ended_at: datetime | None
    sessions: int
    utterances: int


@dataclass(frozen=True, slots=True)
class ConversationPage:
    items: Sequence[ConversationSummary]
    next_cursor: str | None
    """Pass as ``cursor`` to get the next page; ``None`` on the last page."""


# --------------------------------------------------------------------- webhooks (issue #12)

WebhookEvent = Literal[
    "utterance.final", "utterance.partial", "conversation.started", "conversation.ended", "phrase.detected"
]
WEBHOOK_EVENTS: tuple[WebhookEvent, ...] = (
    "utterance.final", "utterance.partial", "conversation.started", "conversation.ended", "phrase.detected"
)  # fmt: skip
DeliveryStatus = Literal["pending", "delivered", "dead"]


@dataclass(frozen=True, slots=True)
class WebhookAuth:
    """How deliveries to one target authenticate (any combination; secrets never reach a log)."""

    signing_secret: str | None = field(default=None, repr=False)
    """Standard Webhooks secret (``whsec_`` + base64): ``webhook-id``/``-timestamp``/``-signature`` headers."""
    header_name: str | None = None
    header_value: str | None = field(default=None, repr=False)
    """A static secret header (e.g. ``Authorization: Bearer ...`` or ``X-Api-Key``)."""
    oauth_token_url: str | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: str | None = field(default=None, repr=False)
    oauth_scope: str | None = None
    """OAuth2 client credentials: a token is fetched, cached until shortly before it expires, and sent as Bearer."""
    ca_file: str | None = None
    """PEM bundle the target's certificate must chain to (instead of the system's)."""
    client_cert_file: str | None = None
    client_key_file: str | None = None
    """Mutual TLS: the client certificate and key presented to the target."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """Where events go: a target URL, the events it wants, and filters (empty: everything)."""

    id: str
    url: str
    events: frozenset[str]
    created_at: datetime
    auth: WebhookAuth = field(default_factory=WebhookAuth)
    organization_id: str | None = None
    conversation_id: str | None = None
    roles: frozenset[str] = frozenset()
    """Channel roles (``external``, ``internal``) whose utterances and phrases it gets; empty: both."""
    source: Literal["config", "api"] = "api"
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event to one subscription: the unit of at-least-once delivery.

    ``id`` is the ``webhook-id`` the receiver de-duplicates on (the same for every attempt).
    Deliveries of one ``(subscription_id, conversation_id)`` go out in ``sequence`` order, each
    after the one before it succeeded (or was dead-lettered).
    """

    id: str
    subscription_id: str
    conversation_id: str
    event: str
    payload: Mapping[str, Any]
    """The JSON body: ``{"type": event, "timestamp": ..., "data": {...}}`` (docs/webhooks.md)."""
    created_at: datetime
    next_attempt_at: datetime
    sequence: int = 0
    """Assigned by the store on insert: increasing in insertion order."""
    attempts: int = 0
    status: DeliveryStatus = "pending"
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PhraseRule:
    """Phrases (whole words, case-insensitive) or a regular expression to listen for."""

    id: str
    name: str
    created_at: datetime
    phrases: tuple[str, ...] = ()
    pattern: str | None = None
    roles: frozenset[str] = frozenset()
    """Channel roles it applies to; empty: both."""
    languages: frozenset[str] = frozenset()
    """Language tags (or their primary subtag, ``en``) it applies to; empty: all."""
    on_partials: bool = False
    """Match partials too (faster: the phrase is reported as soon as it is heard), not only finals."""
    source: Literal["config", "api"] = "api"
