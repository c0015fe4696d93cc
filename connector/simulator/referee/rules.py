"""What Genesys' reference AudioHook client checks on every server message, ported to Python.

Why a port: a server will be judged by an independent client, very likely the reference one
(``purecloudlabs/audiohook-reference-implementation``). This module mirrors its checks, quirks
included, so a violation here means "the reference client would complain" and not "our own idea
of the protocol disagrees":

* ``app/audiohook/src/protocol/validators.ts``: ``isServerMessageBase`` plus one parameter
  validator per server message type (:func:`check_envelope`, :func:`check_parameters`);
* ``app/audiohook/src/client/clientsessionimpl.ts``: the client session's reactions
  (``onTextMessage``, ``onServerMessageBase``, ``onOpenedMessage``, ``onPongMessage``...), each of
  which answers a bad message with an ``error`` of a given code (:func:`decode_server_text`,
  :func:`check_sequence`, :func:`react`, and all of them in order: :func:`check_server_message`).

Nothing here imports the server's code: a bug copied into both sides would pass unnoticed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.vocabulary import SAMPLE_RATE

__all__ = [
    "DISCONNECT_REASONS",
    "DURATION_RE",
    "LANGUAGE_CODE_RE",
    "MAX_TEXT",
    "UUID_RE",
    "ClientView",
    "ReferenceViolation",
    "check_envelope",
    "check_parameters",
    "check_sequence",
    "check_server_message",
    "decode_server_text",
    "is_duration",
    "is_uuid",
    "js_length",
    "media_matches",
    "react",
]

# validators.ts, verbatim.
UUID_RE = re.compile(
    r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
    r"|00000000-0000-0000-0000-000000000000)$"
)
DURATION_RE = re.compile(r"^PT(?:\d*\.)?\d+S$")
LANGUAGE_CODE_RE = re.compile(r"^[a-z]{2,3}-[A-Za-z]{2,3}$")
DISCONNECT_REASONS = frozenset({"error", "unauthorized", "completed"})
MAX_TEXT = 65535  # clientsessionimpl.ts onTextMessage: ``data.length > 65535`` -> 413


class ReferenceViolation(AssertionError):
    """The reference client would answer with ``error`` ``code``; if ``fatal``, it then closes with reason error."""

    def __init__(self, code: int, reason: str, *, fatal: bool = True) -> None:
        super().__init__(f"reference client would send error {code}: {reason}")
        self.code = code
        self.reason = reason
        self.fatal = fatal


# ------------------------------------------------------------------ primitives (validators.ts)


def js_length(text: str) -> int:
    """``String.prototype.length``: UTF-16 code units, so a character outside the BMP counts twice."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _is_string(value: object) -> bool:
    return isinstance(value, str)


def _is_integer(value: object) -> bool:
    """``Number.isInteger``: JSON ``2.0`` is an integer in JavaScript."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_seq(value: object) -> bool:
    return _is_integer(value) and value >= 0  # type: ignore[operator]


def is_uuid(value: object) -> bool:
    return isinstance(value, str) and bool(UUID_RE.match(value))


def is_duration(value: object) -> bool:
    return isinstance(value, str) and bool(DURATION_RE.match(value))


def _is_json_value(value: object) -> bool:
    """``isJsonValue``: looks at ``value?.constructor``, which is ``undefined`` for null, so null fails."""
    return isinstance(value, str | bool | int | float | list | dict)


def _is_media_parameter(value: object) -> bool:
    if not isinstance(value, dict):
        return False
    channels = value.get("channels")
    return (
        value.get("type") == "audio"
        and value.get("format") in ("PCMU", "L16")
        and value.get("rate") == SAMPLE_RATE
        and not isinstance(value.get("rate"), bool)
        and isinstance(channels, list)
        and 1 <= len(channels) <= 2
        and all(c in ("external", "internal") for c in channels)
    )


def _optional(params: Mapping[str, Any], key: str, check: Callable[[Any], bool]) -> bool:
    return key not in params or bool(check(params[key]))


def _opened_ok(p: Mapping[str, Any]) -> bool:
    media = p.get("media")
    return (
        isinstance(media, list)
        and all(_is_media_parameter(m) for m in media)
        and _optional(p, "discardTo", is_duration)
        and _optional(p, "startPaused", lambda v: isinstance(v, bool))
        and _optional(p, "supportedLanguages", lambda v: isinstance(v, list) and all(_is_string(x) for x in v))
    )


def _disconnect_ok(p: Mapping[str, Any]) -> bool:
    return p.get("reason") in DISCONNECT_REASONS and _optional(p, "info", _is_string)


def _event_ok(p: Mapping[str, Any]) -> bool:
    entities = p.get("entities")
    return isinstance(entities, list) and all(
        isinstance(e, dict) and _is_string(e.get("type")) and "data" in e and _is_json_value(e["data"])
        for e in entities
    )


def _reconnect_ok(p: Mapping[str, Any]) -> bool:
    return _optional(p, "info", _is_string)


def _any(_: Mapping[str, Any]) -> bool:
    return True  # ``makeValidator({}, {})`` accepts any object


_SERVER_CHECKS: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "closed": _any,
    "disconnect": _disconnect_ok,
    "event": _event_ok,
    "opened": _opened_ok,
    "pong": _any,
    "pause": _any,
    "reconnect": _reconnect_ok,
    "resume": _any,
    "updated": _any,
}


def check_envelope(msg: object) -> str | None:
    """``isServerMessageBase``; returns what is wrong, or ``None``."""
    if not isinstance(msg, dict):
        return "not a JSON object"
    if msg.get("version") != "2":
        return f"version is {msg.get('version')!r}, not the string '2'"
    if not is_uuid(msg.get("id")):
        return f"id {msg.get('id')!r} does not match the reference UUID regex"
    if not _is_string(msg.get("type")):
        return "type is not a string"
    if not _is_seq(msg.get("seq")):
        return f"seq {msg.get('seq')!r} is not a non-negative integer"
    if not isinstance(msg.get("parameters"), dict):
        return "parameters is missing or not an object"
    if not _is_seq(msg.get("clientseq")):
        return f"clientseq {msg.get('clientseq')!r} is not a non-negative integer"
    return None


def check_parameters(msg_type: str, parameters: Mapping[str, Any]) -> str | None:
    """``isServerMessage``: a known type whose parameters pass its validator."""
    check = _SERVER_CHECKS.get(msg_type)
    if check is None:
        return f"unsupported server message type {msg_type!r}"
    if not check(parameters):
        return f"{msg_type} parameters fail the reference validator: {json.dumps(parameters)[:300]}"
    return None


def media_matches(selected: Mapping[str, Any], offer: Mapping[str, Any]) -> bool:
    """Same type, format, rate and channels in the same order (``onOpenedMessage``'s test)."""
    return all(selected.get(k) == offer.get(k) for k in ("type", "format", "rate")) and list(
        selected.get("channels") or ()
    ) == list(offer.get("channels") or ())


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")  # JSON.parse has no NaN/Infinity


# --------------------------------------------------------------- the client session's reactions


def decode_server_text(raw: str | bytes) -> dict[str, Any]:
    """``onBinaryMessage`` / ``onTextMessage``: one frame to a server message with a valid envelope."""
    if isinstance(raw, bytes | bytearray):
        raise ReferenceViolation(415, f"Unexpected binary message ({len(raw)} bytes)")
    length = js_length(raw)
    if length > MAX_TEXT:
        raise ReferenceViolation(413, f"Message too large ({length} UTF-16 units > {MAX_TEXT})")
    try:
        msg = json.loads(raw, parse_constant=_reject_constant)
    except ValueError as exc:
        raise ReferenceViolation(400, f"Message not well-formed JSON ({exc})") from None
    problem = check_envelope(msg)
    if problem is not None:
        raise ReferenceViolation(400, f"Message not an AudioHook server message: {problem}: {raw[:300]}")
    return dict(msg)


def check_sequence(msg: Mapping[str, Any], serverseq: int) -> None:
    """``onServerMessageBase``: a thrown Error is caught by the ws handler -> 500 'Internal client error'."""
    if msg["seq"] != serverseq + 1:
        raise ReferenceViolation(
            500, f"Protocol error: current serverseq={serverseq} and incoming message has seq={msg['seq']}"
        )


@dataclass
class ClientView:
    """The reference ``ClientSessionImpl`` state that its message handlers read and write."""

    session_id: str
    offered_media: list[dict[str, Any]]
    state: str = "OPENING"
    """CONNECTING, PREPARING, OPENING, OPEN, CLOSING, CLOSING-ERROR, CLOSED or DISCONNECTED."""
    seq: int = 0
    serverseq: int = 0
    pending_ping: int | None = None
    initial_ping_timer: bool = False
    """``pingTimerInitial`` is set at ``opened`` and cleared only by the first answered pong."""
    opened_msg: dict[str, Any] | None = None
    closed_msg: dict[str, Any] | None = None
    ping_msg: dict[str, Any] | None = None
    pong_msg: dict[str, Any] | None = None
    paused_msg: dict[str, Any] | None = None
    transcripts: list[dict[str, Any]] = field(default_factory=list)
    """``entities[0].data`` of every event whose first entity is a transcript (partials too)."""
    received: list[dict[str, Any]] = field(default_factory=list)
    keep: bool = True
    """Record ``received`` and ``transcripts`` (a long-running caller that keeps its own log turns it off)."""

    @property
    def is_closing(self) -> bool:
        return self.state in ("CLOSING", "CLOSING-ERROR")


def check_server_message(raw: str | bytes, view: ClientView) -> dict[str, Any]:
    """Process one server frame as ``ClientSessionImpl`` does; raise if it would send an ``error``.

    Updates ``view`` (serverseq, state, pending ping, recorded messages) exactly where the
    reference client does. Reactions that send messages (``paused`` on ``pause``, ``close`` on
    ``disconnect``, the second ping after the first pong) are the caller's job.
    """
    msg = decode_server_text(raw)
    check_sequence(msg, view.serverseq)
    view.serverseq = int(msg["seq"])
    problem = check_parameters(msg["type"], msg["parameters"])
    if problem is not None:
        raise ReferenceViolation(500, problem)
    react(msg, view)
    return msg


def react(msg: dict[str, Any], view: ClientView) -> None:
    """The per-type handler of a message whose envelope, seq and parameters passed."""
    if view.keep:
        view.received.append(msg)
    _HANDLERS[msg["type"]](msg, view)


def _unexpected(msg: Mapping[str, Any], view: ClientView) -> ReferenceViolation:
    return ReferenceViolation(409, f"Unexpected '{msg['type']}' message in state {view.state}")


def _on_closed(msg: dict[str, Any], view: ClientView) -> None:
    view.closed_msg = msg
    if not view.is_closing:
        raise _unexpected(msg, view)


def _on_disconnect(msg: dict[str, Any], view: ClientView) -> None:
    pass  # "always OK"; the caller starts the close transaction when not already closing


def _on_event(msg: dict[str, Any], view: ClientView) -> None:
    entities = msg["parameters"]["entities"]
    if not entities:
        # ``msg.parameters['entities'][0].type`` throws a TypeError -> 500.
        raise ReferenceViolation(500, "event with an empty 'entities' array crashes onEventMessage")
    first = entities[0]
    if first["type"] == "transcript" and view.keep:
        view.transcripts.append(first["data"])


def _on_opened(msg: dict[str, Any], view: ClientView) -> None:
    if view.state != "OPENING":
        raise _unexpected(msg, view)
    view.state = "OPEN"
    view.opened_msg = msg
    media = msg["parameters"]["media"]
    if len(media) > 1:
        raise ReferenceViolation(400, "More than one media selected")
    if media and not any(media_matches(media[0], offer) for offer in view.offered_media):
        raise ReferenceViolation(400, f"Selected media not one of the offered: {media[0]}")
    view.initial_ping_timer = True


def _on_pong(msg: dict[str, Any], view: ClientView) -> None:
    if view.pong_msg is None:
        view.pong_msg = msg
    if view.pending_ping is None:
        raise ReferenceViolation(409, "Unexpected 'pong' (no outstanding 'ping')", fatal=False)
    if view.pending_ping != msg["clientseq"]:
        raise ReferenceViolation(
            400,
            f'The "clientseq" of the \'pong\' message ({msg["clientseq"]}) must match "seq" of the '
            f"'ping' message ({view.pending_ping}).",
            fatal=False,
        )
    view.pending_ping = None  # (in OPEN the caller also records the RTT and may ping again)


def _on_pause_or_resume(msg: dict[str, Any], view: ClientView) -> None:
    if view.state != "OPEN" and not view.is_closing:
        raise _unexpected(msg, view)


def _ignore(msg: dict[str, Any], view: ClientView) -> None:
    pass  # reconnect and updated are only logged


_HANDLERS: dict[str, Callable[[dict[str, Any], ClientView], None]] = {
    "closed": _on_closed,
    "disconnect": _on_disconnect,
    "event": _on_event,
    "opened": _on_opened,
    "pong": _on_pong,
    "pause": _on_pause_or_resume,
    "resume": _on_pause_or_resume,
    "reconnect": _ignore,
    "updated": _ignore,
}
