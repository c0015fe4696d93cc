"""The AudioHook protocol, sans-IO: messages, durations, media choice, transcripts, session."""

from .durations import DurationError, format_duration, parse_duration
from .media import MediaFormat, select_media
from .messages import (
    MAX_TEXT_MESSAGE,
    NIL_UUID,
    ClientMessage,
    ProtocolViolation,
    ServerMessage,
    encode_server_message,
    is_uuid,
    parse_client_message,
)
from .session import (
    Audio,
    Backoff,
    CallSettings,
    Effect,
    FlushTranscription,
    Lane,
    Send,
    SessionMachine,
    SessionPolicy,
    StartTranscription,
    State,
    StopTranscription,
)
from .transcript import transcript_entities, transcript_entity

__all__ = [
    "MAX_TEXT_MESSAGE",
    "NIL_UUID",
    "Audio",
    "Backoff",
    "CallSettings",
    "ClientMessage",
    "DurationError",
    "Effect",
    "FlushTranscription",
    "Lane",
    "MediaFormat",
    "ProtocolViolation",
    "Send",
    "ServerMessage",
    "SessionMachine",
    "SessionPolicy",
    "StartTranscription",
    "State",
    "StopTranscription",
    "encode_server_message",
    "format_duration",
    "is_uuid",
    "parse_client_message",
    "parse_duration",
    "select_media",
    "transcript_entities",
    "transcript_entity",
]
