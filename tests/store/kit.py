"""Records for the store tests: every field set to something other than its default."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from connector.store import SessionRecord, TranslationRecord, UtteranceRecord, WordRecord
from connector.store.records import Delivery, PhraseRule, Subscription, WebhookAuth

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
PARIS = timezone(timedelta(hours=1))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def session(session_id: str = "s1", conversation_id: str = "c1", **changes: Any) -> SessionRecord:
    record = SessionRecord(
        session_id=session_id,
        conversation_id=conversation_id,
        organization_id="org-1",
        correlation_id=f"corr-{session_id}",
        started_at=T0,
        participant={"id": "p-1", "ani": "+33100000000", "aniName": "Ann", "dnis": "+33200000000"},
        channels=("external", "internal"),
        media_format="PCMU",
        language="fr-FR",
        engine="local",
        replica="replica-a",
        transcribing=True,
        control_version=2,
        audio_seconds=61.5,
        transcribed_seconds=58.25,
        transcripts=7,
        ended_at=None,
        outcome=None,
        disconnect_reason=None,
        updated_at=T0,
    )
    return replace(record, **changes)


def utterance(
    utterance_id: str = "u1", session_id: str = "s1", conversation_id: str = "c1", **changes: Any
) -> UtteranceRecord:
    record = UtteranceRecord(
        session_id=session_id,
        conversation_id=conversation_id,
        utterance_id=utterance_id,
        channel=1,
        role="internal",
        offset=12.34,
        duration=1.5,
        text="bonjour, comment puis-je vous aider ?",
        confidence=0.875,
        language="fr-FR",
        sent_at=at(13),
        words=(
            WordRecord(value="bonjour", offset=12.34, duration=0.5, confidence=0.9),
            WordRecord(value="aider", offset=13.5, duration=0.34, confidence=0.75),
        ),
        translation=TranslationRecord(text="hello, how can I help?", language="en-US"),
        engine="local",
    )
    return replace(record, **changes)


def auth() -> WebhookAuth:
    return WebhookAuth(
        signing_secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        header_name="X-Api-Key",
        header_value="key-\u00e9-secret",
        oauth_token_url="https://idp.example/token",
        oauth_client_id="client-1",
        oauth_client_secret="oauth-secret",
        oauth_scope="hooks.write",
        ca_file="/etc/connector/ca.pem",
        client_cert_file="/etc/connector/client.pem",
        client_key_file="/etc/connector/client.key",
    )


def subscription(id: str = "sub-1", **changes: Any) -> Subscription:
    record = Subscription(
        id=id,
        url="https://hooks.example/connector",
        events=frozenset({"utterance.final", "phrase.detected"}),
        created_at=at(1),
        auth=auth(),
        organization_id="org-1",
        conversation_id="c1",
        roles=frozenset({"external"}),
        source="config",
        enabled=False,
    )
    return replace(record, **changes)


def phrase_rule(id: str = "rule-1", **changes: Any) -> PhraseRule:
    record = PhraseRule(
        id=id,
        name="cancellation",
        created_at=at(2),
        phrases=("cancel my contract", "résilier"),
        pattern=r"\bcancel(l?ed|ing)?\b",
        roles=frozenset({"external", "internal"}),
        languages=frozenset({"en", "fr-FR"}),
        on_partials=True,
        source="config",
    )
    return replace(record, **changes)


def delivery(id: str = "d1", subscription_id: str = "sub-1", conversation_id: str = "c1", **changes: Any) -> Delivery:
    record = Delivery(
        id=id,
        subscription_id=subscription_id,
        conversation_id=conversation_id,
        event="utterance.final",
        payload={
            "type": "utterance.final",
            "timestamp": "2026-03-01T12:00:13.123456Z",
            "data": {"conversationId": conversation_id, "text": "bonjour", "confidence": 0.875, "words": [1, 2.5]},
        },
        created_at=at(13),
        next_attempt_at=at(13),
    )
    return replace(record, **changes)
