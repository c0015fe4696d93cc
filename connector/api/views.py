"""From the store's records to the API's bodies: the status of a conversation and its parts.

The status is derived, never stored: ``live`` is a session without an outcome, the channels are
the newest session's (each ``ended``, ``transcribing``, ``stopped`` by a stop request, or
``pending`` waiting for a language or a start), and the summary adds up every session.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..store.records import (
    ControlRecord,
    Conversation,
    ConversationSummary,
    SessionRecord,
    UtteranceRecord,
)
from .models import (
    ChannelStatus,
    ChannelView,
    ControlView,
    ConversationItem,
    ConversationState,
    ExportedUtterance,
    ParticipantsView,
    SessionView,
    SummaryView,
    TranslationView,
    UtteranceView,
    WordView,
)

__all__ = ["control_view", "conversation_item", "conversation_state", "exported", "session_view", "utterance_view"]


def control_view(record: ControlRecord) -> ControlView:
    return ControlView(
        state=record.state,
        version=record.version,
        updated_at=record.updated_at,
        language=record.language,
        engine=record.engine,
        participants=ParticipantsView(customer=record.customer_id, agent=record.agent_id),
        options=dict(record.options),
    )


LIVE_WITHIN = timedelta(seconds=60)
"""A session without an outcome whose row was not updated for this long is ``lost``: its replica
stopped (a live session updates its row every ``CONNECTOR_STORE_PROGRESS_EVERY``, 10 s)."""


def _is_live(session: SessionRecord, now: datetime) -> bool:
    return session.outcome is None and (session.updated_at is None or now - session.updated_at < LIVE_WITHIN)


def _channel_status(session: SessionRecord, control: ControlRecord | None, now: datetime) -> ChannelStatus:
    if session.outcome is not None:
        return "ended"
    if not _is_live(session, now):
        return "lost"
    if session.transcribing:
        return "transcribing"
    if control is not None and control.state == "stopped":
        return "stopped"
    return "pending"


def conversation_state(
    conversation_id: str,
    conversation: Conversation | None,
    control: ControlRecord | None = None,
    now: datetime | None = None,
) -> ConversationState:
    """The status part of a body; ``control`` stands in when the store has no conversation yet."""
    now = now or datetime.now(UTC)
    sessions = list(conversation.sessions) if conversation else []
    control = conversation.control if conversation and conversation.control else control
    channels: list[ChannelView] = []
    if sessions:
        newest = sessions[-1]
        status = _channel_status(newest, control, now)
        channels = [ChannelView(channel=i, role=role, status=status) for i, role in enumerate(newest.channels)]
    return ConversationState(
        conversation_id=conversation_id,
        control=control_view(control) if control else None,
        live=any(_is_live(s, now) for s in sessions),
        channels=channels,
        summary=SummaryView(
            audio_seconds=sum(s.audio_seconds for s in sessions),
            transcribed_seconds=sum(s.transcribed_seconds for s in sessions),
            transcripts=sum(s.transcripts for s in sessions),
            sessions=len(sessions),
        ),
    )


def session_view(session: SessionRecord) -> SessionView:
    return SessionView(
        session_id=session.session_id,
        organization_id=session.organization_id,
        correlation_id=session.correlation_id,
        started_at=session.started_at,
        ended_at=session.ended_at,
        outcome=session.outcome,
        disconnect_reason=session.disconnect_reason,
        participant=dict(session.participant),
        channels=list(session.channels),
        media_format=session.media_format,
        language=session.language,
        engine=session.engine,
        replica=session.replica,
        transcribing=session.transcribing,
        control_version=session.control_version,
        audio_seconds=session.audio_seconds,
        transcribed_seconds=session.transcribed_seconds,
        transcripts=session.transcripts,
    )


def _utterance_fields(u: UtteranceRecord) -> dict[str, object]:
    return {
        "session_id": u.session_id,
        "utterance_id": u.utterance_id,
        "channel": u.channel,
        "role": u.role,
        "offset": u.offset,
        "duration": u.duration,
        "text": u.text,
        "confidence": u.confidence,
        "language": u.language,
        "words": [WordView(value=w.value, offset=w.offset, duration=w.duration, confidence=w.confidence)
                  for w in u.words],
        "translation": TranslationView(text=u.translation.text, language=u.translation.language)
        if u.translation else None,
        "engine": u.engine,
        "sent_at": u.sent_at,
    }  # fmt: skip


def utterance_view(utterance: UtteranceRecord) -> UtteranceView:
    return UtteranceView.model_validate(_utterance_fields(utterance))


def exported(utterance: UtteranceRecord) -> ExportedUtterance:
    """An utterance as one export line: the GET shape plus its ``conversationId``."""
    return ExportedUtterance.model_validate(
        {**_utterance_fields(utterance), "conversation_id": utterance.conversation_id}
    )


def conversation_item(summary: ConversationSummary) -> ConversationItem:
    return ConversationItem(
        conversation_id=summary.conversation_id,
        organization_id=summary.organization_id,
        started_at=summary.started_at,
        ended_at=summary.ended_at,
        sessions=summary.sessions,
        utterances=summary.utterances,
    )
