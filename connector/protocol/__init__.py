"""The AudioHook protocol, sans-IO: messages, durations, media choice, transcripts, the outbox, session."""

from .call import CallSettings, SessionPolicy
from .control import ControlRequest
from .durations import DurationError, format_duration, parse_duration
from .effects import (
    Audio,
    AwaitClose,
    Backoff,
    Closing,
    Discarded,
    Effect,
    FlushTranscription,
    Opened,
    StartTranscription,
    StopTranscription,
)
from .media import MediaFormat, select_media
from .messages import (
    MAX_TEXT_MESSAGE,
    NIL_UUID,
    ClientMessage,
    ProtocolViolation,
    ServerMessage,
    encode_envelope,
    encode_server_message,
    is_uuid,
    parse_client_message,
)
from .outbox import CLOSING_BACKOFF_CAP, MAX_BACKOFF, MAX_EVENT_UNITS, Carried, Outbox, OutboxObserver, Outgoing, Track
from .session import SessionCounters, SessionMachine, State
from .token_bucket import TokenBucket
from .transcript import split_hypothesis, transcript_entity

__all__ = [
    "CLOSING_BACKOFF_CAP",
    "MAX_BACKOFF",
    "MAX_EVENT_UNITS",
    "MAX_TEXT_MESSAGE",
    "NIL_UUID",
    "Audio",
    "AwaitClose",
    "Backoff",
    "CallSettings",
    "Carried",
    "ClientMessage",
    "Closing",
    "ControlRequest",
    "Discarded",
    "DurationError",
    "Effect",
    "FlushTranscription",
    "MediaFormat",
    "Opened",
    "Outbox",
    "OutboxObserver",
    "Outgoing",
    "ProtocolViolation",
    "ServerMessage",
    "SessionCounters",
    "SessionMachine",
    "SessionPolicy",
    "StartTranscription",
    "State",
    "StopTranscription",
    "TokenBucket",
    "Track",
    "encode_envelope",
    "encode_server_message",
    "format_duration",
    "is_uuid",
    "parse_client_message",
    "parse_duration",
    "select_media",
    "split_hypothesis",
    "transcript_entity",
]
