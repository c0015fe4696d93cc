"""The API's bodies as pydantic models: one definition validates requests, shapes responses and
writes ``/openapi.json``.

Names are camelCase on the wire (``conversationId``), as in the AudioHook protocol the callers
already know; times are ISO 8601 in UTC with ``Z``. Request bodies forbid unknown fields, so a
misspelt ``langauge`` is a 422 naming it instead of a start without the language asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

from ..language_tags import normalize_tag

__all__ = [
    "LANGUAGE_PATTERN",
    "ChannelStatus",
    "ChannelView",
    "ControlResult",
    "ControlView",
    "ConversationDetail",
    "ConversationItem",
    "ConversationList",
    "ConversationState",
    "ErrorBody",
    "ExportedUtterance",
    "Health",
    "Participants",
    "SessionView",
    "StartRequest",
    "StopRequest",
    "SummaryView",
    "TranslationView",
    "UtteranceView",
    "WordView",
    "iso_utc",
]

LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


def iso_utc(value: datetime) -> str:
    """``2024-05-01T12:00:00.250000Z``; a naive time (as SQLite returns it) is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


UtcTime = Annotated[
    datetime,
    PlainSerializer(iso_utc, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2024-05-01T12:00:00Z"]}),
]
Language = Annotated[
    str, Field(pattern=LANGUAGE_PATTERN, max_length=35, examples=["en-US"]), AfterValidator(normalize_tag)
]
ChannelStatus = Literal["transcribing", "stopped", "pending", "ended", "lost"]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------- requests


class Participants(_Request):
    customer: str | None = Field(default=None, min_length=1, max_length=128, description="The customer's id.")
    agent: str | None = Field(default=None, min_length=1, max_length=128, description="The agent's id.")


class StartRequest(_Request):
    """Start (or restart) transcription; every field is optional."""

    language: Language | None = Field(default=None, description="BCP-47 tag of the spoken language.")
    engine: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$", examples=["local"],
        description="Engine name (one of CONNECTOR_ENGINES); default: the call's or the server's.",
    )  # fmt: skip
    participants: Participants | None = None
    options: dict[str, Any] | None = Field(default=None, description="Engine options, as in customConfig.")


class StopRequest(_Request):
    """Stop transcription; the reason is kept with the request."""

    reason: str | None = Field(default=None, min_length=1, max_length=500)


# ---------------------------------------------------------------------------- responses


class ErrorBody(BaseModel):
    """Every error: a stable code and a sentence for a person."""

    error: str = Field(examples=["invalid_request"])
    info: str = Field(examples=["conversationId (path): Input should be a valid UUID"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class ParticipantsView(_Model):
    customer: str | None = None
    agent: str | None = None


class ControlView(_Model):
    """The conversation's last start/stop request; ``version`` grows by one per request."""

    state: Literal["started", "stopped"]
    version: int
    updated_at: UtcTime
    language: str | None = None
    engine: str | None = None
    participants: ParticipantsView
    options: dict[str, Any]


class ChannelView(_Model):
    channel: int
    role: str = Field(examples=["external"])
    status: ChannelStatus


class SummaryView(_Model):
    audio_seconds: float
    transcribed_seconds: float
    transcripts: int
    sessions: int


class ConversationState(_Model):
    conversation_id: str
    control: ControlView | None
    live: bool = Field(description="A session of the conversation is open now.")
    channels: list[ChannelView] = Field(description="The newest session's channels; empty before any session.")
    summary: SummaryView


class ControlResult(ConversationState):
    applied: bool = Field(description="A live session reported that it applied this request.")
    status: Literal["applied", "pending"] = Field(
        description="pending: remembered, applied when a session of the conversation opens or confirms."
    )


class SessionView(_Model):
    session_id: str
    organization_id: str
    correlation_id: str
    started_at: UtcTime
    ended_at: UtcTime | None
    outcome: str | None
    disconnect_reason: str | None
    participant: dict[str, Any]
    channels: list[str]
    media_format: str | None
    language: str | None
    engine: str | None
    replica: str
    transcribing: bool
    control_version: int
    audio_seconds: float
    transcribed_seconds: float
    transcripts: int


class WordView(_Model):
    value: str
    offset: float
    duration: float
    confidence: float


class TranslationView(_Model):
    text: str
    language: str


class UtteranceView(_Model):
    session_id: str
    utterance_id: str
    channel: int
    role: str
    offset: float = Field(description="Seconds from the start of the call's audio stream.")
    duration: float
    text: str = Field(description="What was said (the original language when translated).")
    confidence: float
    language: str | None
    words: list[WordView]
    translation: TranslationView | None = Field(description="The text sent to Genesys when translated.")
    engine: str
    sent_at: UtcTime


class ExportedUtterance(UtteranceView):
    conversation_id: str


class ConversationDetail(ConversationState):
    sessions: list[SessionView]
    utterances: list[UtteranceView]


class ConversationItem(_Model):
    conversation_id: str
    organization_id: str
    started_at: UtcTime
    ended_at: UtcTime | None
    sessions: int
    utterances: int


class ConversationList(_Model):
    items: list[ConversationItem]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last page.")
