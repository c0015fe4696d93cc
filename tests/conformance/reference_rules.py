"""What Genesys' reference AudioHook client checks on every server message, ported to Python.

Why a port: our server will be judged by an independent client, very likely the reference one
(``purecloudlabs/audiohook-reference-implementation``). Its checks live in three places, and
this module mirrors each, quirks included, so a failure here means "the reference client would
complain" and not "our own idea of the protocol disagrees":

* ``app/audiohook/src/protocol/validators.ts``: ``isServerMessageBase`` plus one parameter
  validator per server message type (:func:`check_envelope`, :func:`check_parameters`);
* ``app/audiohook/src/client/clientsessionimpl.ts``: the client session's reactions
  (``onTextMessage``, ``onServerMessageBase``, ``onOpenedMessage``, ``onPongMessage``...), each
  of which answers a bad message with an ``error`` of a given code (:func:`check_server_message`);
* ``test/api-test-utils.ts`` and its matchers: the jest suite's extra assertions
  (:func:`common_validations`, :func:`validate_media_params`, :func:`check_supported_languages`,
  :func:`transcript_validations`).

Nothing here imports the server's code: a bug copied into both sides would pass unnoticed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DELTA",
    "TRANSCRIPT_INFO",
    "TRANSCRIPT_INFO_LONGER",
    "ClientView",
    "ReferenceViolation",
    "check_envelope",
    "check_parameters",
    "check_server_message",
    "check_supported_languages",
    "common_validations",
    "js_length",
    "suite_duration",
    "transcript_validations",
    "validate_media_params",
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

# test/test-data.ts: what the suite expects from its 11 s WAV (offset, duration), delta 0.5 s.
DELTA = 0.5
TRANSCRIPT_INFO: tuple[tuple[float, float], ...] = ((0.1, 0.4), (1.1, 1.6), (2.9, 1.2), (4.9, 1.0), (6.7, 2.6))
TRANSCRIPT_INFO_LONGER: tuple[tuple[float, float], ...] = (*TRANSCRIPT_INFO[:4], (6.7, 1.3), (8.0, 1.3))


class ReferenceViolation(AssertionError):
    """The reference client would answer with ``error`` ``code`` (and, if fatal, close with reason error)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"reference client would send error {code}: {reason}")
        self.code = code
        self.reason = reason


# ------------------------------------------------------------------ primitives (validators.ts)


def js_length(text: str) -> int:
    """``String.prototype.length``: UTF-16 code units, so a character outside the BMP counts twice."""
    return len(text.encode("utf-16-le")) // 2


def _is_string(value: object) -> bool:
    return isinstance(value, str)


def _is_integer(value: object) -> bool:
    """``Number.isInteger``: JSON ``2.0`` is an integer in JavaScript."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_seq(value: object) -> bool:
    return _is_integer(value) and value >= 0  # type: ignore[operator]


def _is_uuid(value: object) -> bool:
    return isinstance(value, str) and bool(UUID_RE.match(value))


def _is_duration(value: object) -> bool:
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
        and value.get("rate") == 8000
        and not isinstance(value.get("rate"), bool)
        and isinstance(channels, list)
        and 1 <= len(channels) <= 2
        and all(c in ("external", "internal") for c in channels)
    )


def _optional(params: Mapping[str, Any], key: str, check: Any) -> bool:
    return key not in params or bool(check(params[key]))


def _opened_ok(p: Mapping[str, Any]) -> bool:
    media = p.get("media")
    return (
        isinstance(media, list)
        and all(_is_media_parameter(m) for m in media)
        and _optional(p, "discardTo", _is_duration)
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


_SERVER_CHECKS = {
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
    if not _is_uuid(msg.get("id")):
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


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")  # JSON.parse has no NaN/Infinity


# --------------------------------------------------------------- the client session's reactions


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

    @property
    def is_closing(self) -> bool:
        return self.state in ("CLOSING", "CLOSING-ERROR")


def _unexpected(msg: dict[str, Any], view: ClientView) -> ReferenceViolation:
    return ReferenceViolation(409, f"Unexpected '{msg['type']}' message in state {view.state}")


def check_server_message(raw: str | bytes, view: ClientView) -> dict[str, Any]:
    """Process one server frame as ``ClientSessionImpl`` does; raise if it would send an ``error``.

    Updates ``view`` (serverseq, state, pending ping, recorded messages) exactly where the
    reference client does. Reactions that send messages (``paused`` on ``pause``, ``close`` on
    ``disconnect``, the second ping after the first pong) are the caller's job.
    """
    if isinstance(raw, bytes | bytearray):
        raise ReferenceViolation(415, f"Unexpected binary message ({len(raw)} bytes)")
    if js_length(raw) > MAX_TEXT:
        raise ReferenceViolation(413, f"Message too large ({js_length(raw)} UTF-16 units > {MAX_TEXT})")
    try:
        msg = json.loads(raw, parse_constant=_reject_constant)
    except ValueError as exc:
        raise ReferenceViolation(400, f"Message not well-formed JSON ({exc})") from None
    problem = check_envelope(msg)
    if problem is not None:
        raise ReferenceViolation(400, f"Message not an AudioHook server message: {problem}: {raw[:300]}")
    # onServerMessageBase: a thrown Error is caught by the ws handler -> 500 'Internal client error'.
    if msg["seq"] != view.serverseq + 1:
        raise ReferenceViolation(
            500, f"Protocol error: Current serverseq={view.serverseq} and incoming message has seq={msg['seq']}"
        )
    view.serverseq = int(msg["seq"])
    problem = check_parameters(msg["type"], msg["parameters"])
    if problem is not None:
        raise ReferenceViolation(500, problem)
    view.received.append(msg)
    handler = _HANDLERS[msg["type"]]
    handler(msg, view)
    return dict(msg)


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
    if first["type"] == "transcript":
        view.transcripts.append(first["data"])


def _on_opened(msg: dict[str, Any], view: ClientView) -> None:
    if view.state != "OPENING":
        raise _unexpected(msg, view)
    view.state = "OPEN"
    view.opened_msg = msg
    media = msg["parameters"]["media"]
    if len(media) > 1:
        raise ReferenceViolation(400, "More than one media selected")
    if media:
        selected = media[0]
        if not any(
            m["format"] == selected["format"]
            and m["rate"] == selected["rate"]
            and m["type"] == selected["type"]
            and list(m["channels"]) == list(selected["channels"])
            for m in view.offered_media
        ):
            raise ReferenceViolation(400, f"Selected media not one of the offered: {selected}")
    view.initial_ping_timer = True


def _on_pong(msg: dict[str, Any], view: ClientView) -> None:
    if view.pong_msg is None:
        view.pong_msg = msg
    if view.pending_ping is None:
        raise ReferenceViolation(409, "Unexpected 'pong' (no outstanding 'ping')")
    if view.pending_ping != msg["clientseq"]:
        raise ReferenceViolation(
            400, f"pong clientseq {msg['clientseq']} does not match the ping's seq {view.pending_ping}"
        )
    view.pending_ping = None  # (in OPEN the caller also records the RTT and may ping again)


def _on_pause_or_resume(msg: dict[str, Any], view: ClientView) -> None:
    if view.state != "OPEN" and not view.is_closing:
        raise _unexpected(msg, view)


def _ignore(msg: dict[str, Any], view: ClientView) -> None:
    pass  # reconnect and updated are only logged


_HANDLERS = {
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


# ------------------------------------------------------------------- the jest suite's assertions


def common_validations(msg: Mapping[str, Any] | None, view: ClientView) -> None:
    """``commonValidations``: version, id, and seq/clientseq equal to the client's *current* counters."""
    assert msg is not None, "message never arrived"
    assert msg.get("version") == "2", f"Server Message's Version Number is {msg.get('version')!r}"
    assert msg.get("id") == view.session_id, f"Server Message's id is {msg.get('id')!r}"
    assert msg.get("seq") == view.serverseq, f"Server seq {msg.get('seq')} != client.serverseq {view.serverseq}"
    assert msg.get("clientseq") == view.seq, f"Server clientseq {msg.get('clientseq')} != client.seq {view.seq}"


def validate_media_params(offered: Sequence[Mapping[str, Any]], selected: Sequence[Mapping[str, Any]] | None) -> None:
    """``validateMediaParams``: empty is fine, else exactly one entry equal to an offer.

    (The suite's own loop never compares channels -- its ``continue`` only skips an inner loop
    iteration -- but the client session rejects a different channel order, so we compare them.)
    """
    if not selected:
        return
    assert len(selected) == 1, "The server selected more than 1 media format, which is not allowed."
    chosen = selected[0]
    same = ("type", "format", "rate")
    assert any(
        all(chosen.get(k) == m.get(k) for k in same) and list(chosen["channels"]) == list(m["channels"])
        for m in offered
    ), f"The server did not correctly select a media format: {chosen} not in {list(offered)}"


def check_supported_languages(opened: Mapping[str, Any] | None) -> None:
    """'Transcript Connector - Supported Languages': an array, every entry matching ``languageCodeRegex``."""
    assert opened is not None
    langs = opened["parameters"].get("supportedLanguages")
    assert isinstance(langs, list), f"supportedLanguages in the opened message is not an array: {langs!r}"
    for index, value in enumerate(langs):
        assert isinstance(value, str) and LANGUAGE_CODE_RE.match(value), (
            f"There is an invalid language code. The language code at index {index}, {value!r}, is not valid."
        )


_FLOAT_PREFIX = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def suite_duration(text: str) -> float:
    """``parseDuration``: drop ``PT`` and the last character, then ``parseFloat`` (NaN if no number)."""
    body = text[2:-1]
    match = _FLOAT_PREFIX.match(body.lstrip())
    return float(match.group(0)) if match else math.nan


def _present(obj: object, name: str, where: str) -> None:
    """``fieldToBePresent``: an own property whose value ``!= undefined`` (so null fails, 0 and '' pass)."""
    assert isinstance(obj, dict) and name in obj and obj[name] is not None, (
        f"The {name} at {where} either does not exist or is undefined."
    )


def _in_range(value: object, name: str, where: str, upper: float, lower: float) -> None:
    """``rangeToBe``: a number with ``lower <= value <= upper`` (NaN fails)."""
    assert isinstance(value, int | float) and not isinstance(value, bool), f"The {name} at {where} is not a number"
    assert lower <= value <= upper, f"The {name} at {where} ({value}) does not fall between {lower} and {upper}."


def transcript_validations(
    transcripts: Sequence[Mapping[str, Any]],
    expected: Sequence[tuple[float, float]] | None = None,
    delta: float = DELTA,
) -> None:
    """``transcriptValidations``, checked on every transcript the client recorded (partials included).

    ``expected`` is the suite's per-WAV table of (offset, duration); ``None`` skips the count and
    timing checks for scenarios whose audio is not the suite's WAV.
    """
    if expected is not None:
        kinds = ["final" if t.get("isFinal") else "partial" for t in transcripts]
        assert len(transcripts) == len(expected), (
            f"Number of transcripts returned is {len(transcripts)} ({kinds}), the suite expects {len(expected)}"
        )
    for index, value in enumerate(transcripts):
        at = f"EventEntityDataTranscript at transcripts[{index}]"
        _present(value, "isFinal", at)
        if not value["isFinal"]:
            continue  # the suite checks nothing else on a partial
        for name in ("id", "channelId", "offset", "duration"):
            _present(value, name, at)
        if expected is not None:
            want_offset, want_duration = expected[index]
            _in_range(suite_duration(value["offset"]), "offset", at, want_offset + delta, want_offset - delta)
            _in_range(suite_duration(value["duration"]), "duration", at, want_duration + delta, want_duration - delta)
        _present(value, "alternatives", at)
        assert len(value["alternatives"]) != 0, f"number of alternatives at transcripts[{index}] is 0"
        for a, alt in enumerate(value["alternatives"]):
            where = f"EventEntityDataTranscript.alternatives[{a}] at transcripts[{index}]"
            _present(alt, "confidence", where)
            _in_range(alt["confidence"], "confidence", where, 1.0, 0.0)
            _present(alt, "interpretations", where)
            assert len(alt["interpretations"]) != 0, f"number of interpretations at {where} is 0"
            for i, interp in enumerate(alt["interpretations"]):
                where_i = f"EventEntityDataTranscript.alternatives[{a}].interpretations[{i}] at transcripts[{index}]"
                for name in ("type", "transcript", "tokens"):
                    _present(interp, name, where_i)
                seen: set[float] = set()
                for token in interp["tokens"]:
                    for name in ("type", "value", "confidence", "offset", "duration"):
                        _present(token, name, where_i)
                    off = suite_duration(token["offset"])
                    assert off not in seen, f"The offset {off} at {where_i} has already appeared"
                    seen.add(off)
