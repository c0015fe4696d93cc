"""Webhook events: their JSON bodies, and which subscriptions get each one.

Bodies follow the Standard Webhooks shape, ``{"type", "timestamp", "data"}``; ``data`` is documented
field by field, with a JSON Schema, in ``docs/webhooks.md`` and ``docs/webhook-event.schema.json``.
They are built from the store's records (so what a receiver gets is what the store keeps, after
redaction) and queued as :class:`~connector.store.records.Delivery` rows in the same transaction as
the records they describe: a final is stored and its deliveries queued together, or neither.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from .records import Delivery, SessionRecord, Subscription, UtteranceRecord

__all__ = ["conversation_event", "plan", "stamp", "utterance_event"]


def stamp(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utterance_event(record: UtteranceRecord, organization_id: str, *, is_final: bool = True) -> dict[str, Any]:
    """``data`` of ``utterance.final`` / ``utterance.partial``."""
    return {
        "conversationId": record.conversation_id,
        "sessionId": record.session_id,
        "organizationId": organization_id,
        "channel": record.channel,
        "role": record.role,
        "utteranceId": record.utterance_id,
        "isFinal": is_final,
        "offset": record.offset,
        "duration": record.duration,
        "text": record.text,
        "confidence": record.confidence,
        "language": record.language,
        "words": [
            {"value": w.value, "offset": w.offset, "duration": w.duration, "confidence": w.confidence}
            for w in record.words
        ],
        "translation": (
            {"text": record.translation.text, "language": record.translation.language} if record.translation else None
        ),
        "engine": record.engine,
        "sentAt": stamp(record.sent_at),
    }


def conversation_event(record: SessionRecord) -> dict[str, Any]:
    """``data`` of ``conversation.started`` / ``conversation.ended`` (one session of the conversation)."""
    data: dict[str, Any] = {
        "conversationId": record.conversation_id,
        "sessionId": record.session_id,
        "organizationId": record.organization_id,
        "channels": list(record.channels),
        "language": record.language,
        "engine": record.engine,
        "startedAt": stamp(record.started_at),
    }
    if record.ended_at is not None:
        data.update(
            endedAt=stamp(record.ended_at),
            outcome=record.outcome,
            audioSeconds=record.audio_seconds,
            transcribedSeconds=record.transcribed_seconds,
            transcripts=record.transcripts,
        )
    return data


def _wants(subscription: Subscription, event: str, data: Mapping[str, Any]) -> bool:
    if not subscription.enabled or event not in subscription.events:
        return False
    organization = subscription.organization_id
    if organization and organization.lower() != str(data.get("organizationId", "")).lower():
        return False
    conversation = subscription.conversation_id
    if conversation and conversation.lower() != str(data.get("conversationId", "")).lower():
        return False
    role = data.get("role")
    return not (subscription.roles and role is not None and role not in subscription.roles)


def plan(
    subscriptions: Iterable[Subscription],
    event: str,
    data: Mapping[str, Any],
    *,
    now: datetime,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> list[Delivery]:
    """One delivery per subscription that wants ``event`` with this ``data`` (filters applied)."""
    payload = {"type": event, "timestamp": stamp(now), "data": dict(data)}
    return [
        Delivery(
            id=new_id(),
            subscription_id=subscription.id,
            conversation_id=str(data["conversationId"]),
            event=event,
            payload=payload,
            created_at=now,
            next_attempt_at=now,
        )
        for subscription in subscriptions
        if _wants(subscription, event, data)
    ]
