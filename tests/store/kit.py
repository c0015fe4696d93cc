"""Records for the store tests: every field set to something other than its default."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from connector.store import SessionRecord, TranslationRecord, UtteranceRecord, WordRecord

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
