"""Client message parsing and server message encoding (AudioHook protocol v2).

Parsing is strict on the envelope (version, id, seq, serverseq, position, parameters) and on
the parameters of the message types we act on, and lenient everywhere else: unknown fields
are ignored and unknown types are passed through for the session to log and skip. Every
rejection carries an ``info`` string that is safe to send back in a ``disconnect``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .durations import DurationError, parse_duration

__all__ = [
    "MAX_TEXT_MESSAGE",
    "NIL_UUID",
    "ClientMessage",
    "ProtocolViolation",
    "ServerMessage",
    "encode_server_message",
    "is_uuid",
    "parse_client_message",
]

MAX_TEXT_MESSAGE = 65535
"""Longest text message either side accepts (characters), per the reference implementation."""

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
NIL_UUID = "00000000-0000-0000-0000-000000000000"
"""The all-zero UUID: a connection probe opens with it as ``conversationId`` and participant ``id``.

Defined here, with the rest of the wire vocabulary, so the server (which recognises a probe) and
the simulator (which sends one) cannot disagree about it.
"""
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}-[A-Za-z]{2,3}$")


def is_uuid(value: object) -> bool:
    return isinstance(value, str) and bool(_UUID.match(value))


class ProtocolViolation(Exception):
    """A client message breaks the protocol; ``info`` goes into ``disconnect``."""

    def __init__(self, info: str) -> None:
        super().__init__(info)
        self.info = info
        self.envelope: tuple[str, int, int] | None = None
        """``(id, seq, serverseq)`` when those parsed and the fault is elsewhere in the message:
        the session can still count the ``seq`` (the client's next message follows it)."""


@dataclass(frozen=True, slots=True)
class ClientMessage:
    type: str
    id: str
    seq: int
    serverseq: int
    position: float
    parameters: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ServerMessage:
    """A message to send; ``seq`` is stamped by the session when it is actually sent."""

    type: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    clientseq: int | None = None
    """Fixed ``clientseq`` (a ``pong`` answers one ``ping``); ``None`` = last processed at send time."""


def _int_field(raw: Mapping[str, Any], name: str) -> int:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolViolation(f"Message field '{name}' must be a non-negative integer")
    return value


def _duration(params: Mapping[str, Any], name: str, *, required: bool = True) -> float | None:
    if name not in params:
        if required:
            raise ProtocolViolation(f"Missing parameter '{name}'")
        return None
    try:
        return parse_duration(params[name])
    except DurationError:
        raise ProtocolViolation(f"Parameter '{name}' is not a Duration") from None


def _validate_open(params: Mapping[str, Any]) -> None:
    for name in ("organizationId", "conversationId"):
        if not is_uuid(params.get(name)):
            raise ProtocolViolation(f"open: '{name}' must be a UUID")
    participant = params.get("participant")
    if not isinstance(participant, Mapping):
        raise ProtocolViolation("open: 'participant' must be an object")
    media = params.get("media")
    if not isinstance(media, list):
        raise ProtocolViolation("open: 'media' must be an array")
    language = params.get("language")
    if language is not None and not isinstance(language, str):
        raise ProtocolViolation("open: 'language' must be a string")
    custom = params.get("customConfig")
    if custom is not None and not isinstance(custom, Mapping):
        raise ProtocolViolation("open: 'customConfig' must be an object")


def _validate_update(params: Mapping[str, Any]) -> None:
    language = params.get("language")
    if language is not None and not isinstance(language, str):
        raise ProtocolViolation("update: 'language' must be a string")


def _validate_gap(params: Mapping[str, Any]) -> None:
    _duration(params, "start")
    _duration(params, "discarded")


def _validate_error(params: Mapping[str, Any]) -> None:
    code = params.get("code")
    if isinstance(code, bool) or not isinstance(code, int):
        raise ProtocolViolation("error: 'code' must be an integer")
    _duration(params, "retryAfter", required=False)


def _validate_close(params: Mapping[str, Any]) -> None:
    reason = params.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise ProtocolViolation("close: 'reason' must be a string")


def _validate_ping(params: Mapping[str, Any]) -> None:
    _duration(params, "rtt", required=False)


_VALIDATORS = {
    "open": _validate_open,
    "update": _validate_update,
    "resumed": _validate_gap,
    "discarded": _validate_gap,
    "error": _validate_error,
    "close": _validate_close,
    "ping": _validate_ping,
}


def _not_json(name: str) -> Any:
    """``NaN``, ``Infinity``: Python's json reads them, RFC 8259 and a JavaScript client do not
    (echoed in ``opened``, they made a message the client cannot parse)."""
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400: would be written back as Infinity
        raise ValueError("number out of range")
    return value


def _has_lone_surrogate(value: Any) -> bool:
    """An escaped unpaired surrogate (``"\\ud800"``) is valid JSON text but no UTF-8 string: echoed
    (the offer in ``opened``, the type in a ``disconnect``'s info) it could not be sent at all."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_client_message(text: str) -> ClientMessage:
    """Parse one text frame. Raises :class:`ProtocolViolation` with a client-safe ``info``."""
    if len(text) > MAX_TEXT_MESSAGE:
        raise ProtocolViolation(f"Message too large ({len(text)} > {MAX_TEXT_MESSAGE} characters)")
    try:
        raw = json.loads(text, parse_constant=_not_json, parse_float=_finite)
    except (ValueError, RecursionError):
        raise ProtocolViolation("Message is not valid JSON") from None
    if "\\u" in text and _has_lone_surrogate(raw):
        raise ProtocolViolation("Message is not valid JSON (an unpaired UTF-16 surrogate)")
    if not isinstance(raw, dict):
        raise ProtocolViolation("Message not a well-formed client message")
    if raw.get("version") != "2":
        raise ProtocolViolation("Unsupported protocol version (expected \"2\")")
    if not is_uuid(raw.get("id")):
        raise ProtocolViolation("Message field 'id' must be a UUID")
    msg_type = raw.get("type")
    if not isinstance(msg_type, str) or not msg_type:
        raise ProtocolViolation("Message field 'type' must be a string")
    seq = _int_field(raw, "seq")
    serverseq = _int_field(raw, "serverseq")
    try:
        params, position = _body(raw, msg_type)
    except ProtocolViolation as violation:
        violation.envelope = (raw["id"], seq, serverseq)
        raise
    return ClientMessage(
        type=msg_type, id=raw["id"], seq=seq, serverseq=serverseq, position=position, parameters=params
    )


def _body(raw: dict[str, Any], msg_type: str) -> tuple[dict[str, Any], float]:
    """``parameters`` (checked for the message type) and ``position``."""
    params = raw.get("parameters")
    if not isinstance(params, dict):
        raise ProtocolViolation("Message field 'parameters' must be an object")
    try:
        position = parse_duration(raw.get("position"))
    except DurationError:
        raise ProtocolViolation("Message field 'position' must be a Duration") from None
    validator = _VALIDATORS.get(msg_type)
    if validator is not None:
        validator(params)
    return params, position


def encode_envelope(message_type: str, session_id: str, seq: int, clientseq: int, parameters: str) -> str:
    """A server message's text around ``parameters`` (already JSON): the one place the envelope
    is written, so a message is serialised once even when its parameters were built in pieces."""
    return (
        f'{{"version":"2","type":{json.dumps(message_type, ensure_ascii=False)},'
        f'"id":{json.dumps(session_id, ensure_ascii=False)},"seq":{seq},"clientseq":{clientseq},'
        f'"parameters":{parameters}}}'
    )


def encode_server_message(message: ServerMessage, *, session_id: str, seq: int, clientseq: int) -> str:
    """Serialise with the envelope every server message needs (``parameters`` always present)."""
    parameters = json.dumps(dict(message.parameters), separators=(",", ":"), ensure_ascii=False)
    return encode_envelope(
        message.type, session_id, seq, clientseq if message.clientseq is None else message.clientseq, parameters
    )
