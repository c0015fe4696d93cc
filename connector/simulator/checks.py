"""Strict checks of what an AudioHook server sends, written independently of the server code.

The simulator exists to catch server bugs before Genesys does, so it validates every server
message the way the reference client's validators do (``isServerMessageBase`` and the per-type
parameter checks), and the transcript entity against its published schema. It shares no code
with the server's own message module on purpose: a bug copied into both would pass unnoticed.

Every check returns a problem description, or ``None`` when the value is fine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from connector.protocol.durations import DurationError, parse_duration
from connector.vocabulary import SAMPLE_RATE

from .result import Token, Transcript

__all__ = [
    "LANGUAGE_CODE",
    "check_parameters",
    "check_server_envelope",
    "media_matches",
    "parse_transcript",
]

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}-[A-Za-z]{2,3}$")
_DISCONNECT_REASONS = {"completed", "unauthorized", "error"}


class TranscriptError(ValueError):
    """A ``transcript`` entity does not follow the schema."""


def _is_seq(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_duration(value: object) -> bool:
    try:
        parse_duration(value)
    except DurationError:
        return False
    return True


def check_server_envelope(msg: object) -> str | None:
    """The fields every server message has (reference ``isServerMessageBase``)."""
    if not isinstance(msg, dict):
        return "not a JSON object"
    if msg.get("version") != "2":
        return f"version is {msg.get('version')!r}, not '2'"
    if not isinstance(msg.get("id"), str) or not _UUID.match(msg["id"]):
        return "id is not a UUID"
    if not isinstance(msg.get("type"), str):
        return "type is not a string"
    if not _is_seq(msg.get("seq")):
        return "seq is not a non-negative integer"
    if not _is_seq(msg.get("clientseq")):
        return "clientseq is missing or not a non-negative integer"
    if not isinstance(msg.get("parameters"), dict):
        return "parameters is missing or not an object"
    return None


def _media_problem(entry: object) -> str | None:
    if not isinstance(entry, dict):
        return "media entry is not an object"
    channels = entry.get("channels")
    if entry.get("type") != "audio":
        return "media type is not 'audio'"
    if entry.get("format") not in ("PCMU", "L16"):
        return "media format is not PCMU or L16"
    if entry.get("rate") != SAMPLE_RATE:
        return "media rate is not 8000"
    if (
        not isinstance(channels, list)
        or not 1 <= len(channels) <= 2
        or not all(c in ("external", "internal") for c in channels)
    ):
        return "media channels invalid"
    return None


def _opened(p: Mapping[str, Any]) -> str | None:
    media = p.get("media")
    if not isinstance(media, list):
        return "media is missing or not an array"
    for entry in media:
        if problem := _media_problem(entry):
            return problem
    if "discardTo" in p and not _is_duration(p["discardTo"]):
        return "discardTo is not a Duration"
    if "startPaused" in p and not isinstance(p["startPaused"], bool):
        return "startPaused is not a boolean"
    langs = p.get("supportedLanguages")
    if "supportedLanguages" in p and (
        not isinstance(langs, list) or not all(isinstance(x, str) for x in langs)
    ):
        return "supportedLanguages is not an array of strings"
    return None


def _disconnect(p: Mapping[str, Any]) -> str | None:
    if p.get("reason") not in _DISCONNECT_REASONS:
        return f"reason {p.get('reason')!r} is not one of {sorted(_DISCONNECT_REASONS)}"
    if "info" in p and not isinstance(p["info"], str):
        return "info is not a string"
    return None


def _reconnect(p: Mapping[str, Any]) -> str | None:
    return "info is not a string" if "info" in p and not isinstance(p["info"], str) else None


def _event(p: Mapping[str, Any]) -> str | None:
    entities = p.get("entities")
    if not isinstance(entities, list):
        return "entities is missing or not an array"
    for entity in entities:
        if not isinstance(entity, dict) or not isinstance(entity.get("type"), str) or "data" not in entity:
            return "entity is not {type: string, data: ...}"
    return None


def _empty(_: Mapping[str, Any]) -> str | None:
    return None


_PARAMETER_CHECKS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    "opened": _opened,
    "pong": _empty,
    "pause": _empty,
    "resume": _empty,
    "updated": _empty,
    "closed": _empty,
    "disconnect": _disconnect,
    "reconnect": _reconnect,
    "event": _event,
}


def check_parameters(msg_type: str, parameters: Mapping[str, Any]) -> str | None:
    """Per-type parameter checks; unknown types are an error, as in the reference client."""
    check = _PARAMETER_CHECKS.get(msg_type)
    if check is None:
        return f"unsupported server message type {msg_type!r}"
    return check(parameters)


def media_matches(selected: Mapping[str, Any], offer: Mapping[str, Any]) -> bool:
    """Same type, format, rate and channels in the same order (the reference client's test)."""
    return all(selected.get(k) == offer.get(k) for k in ("type", "format", "rate", "channels"))


def _confidence(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise TranscriptError(f"{where} confidence {value!r} is not a number in [0, 1]")
    return float(value)


def _duration(value: object, where: str) -> float:
    try:
        return parse_duration(value)
    except DurationError:
        raise TranscriptError(f"{where} is not a Duration: {value!r}") from None


def _token(raw: object, index: int) -> Token:
    where = f"token {index}"
    if not isinstance(raw, dict):
        raise TranscriptError(f"{where} is not an object")
    if raw.get("type") != "word":
        raise TranscriptError(f"{where} type is {raw.get('type')!r}, not 'word'")
    if not isinstance(raw.get("value"), str):
        raise TranscriptError(f"{where} value is not a string")
    return Token(
        value=raw["value"],
        offset=_duration(raw.get("offset"), f"{where} offset"),
        duration=_duration(raw.get("duration"), f"{where} duration"),
        confidence=_confidence(raw.get("confidence"), where),
    )


def parse_transcript(
    data: object,
    *,
    channels: tuple[str, ...],
    received_at: float,
    stream_position: float,
    event_seq: int,
) -> tuple[Transcript, list[str]]:
    """Validate a ``transcript`` entity's data and flatten it; also return soft warnings.

    Raises :class:`TranscriptError` for schema violations (what the published type forbids);
    the warnings cover what the protocol notes only recommend (always sending offsets, tokens
    inside their utterance).
    """
    if not isinstance(data, dict):
        raise TranscriptError("data is not an object")
    warnings: list[str] = []
    tid = data.get("id")
    if not isinstance(tid, str) or not _UUID.match(tid):
        raise TranscriptError("id is not a UUID")
    channel_id = data.get("channelId")
    if channel_id not in (0, 1) or isinstance(channel_id, bool):
        raise TranscriptError(f"channelId {channel_id!r} is not 0 or 1")
    if channels and channel_id >= len(channels):
        raise TranscriptError(f"channelId {channel_id} but only {len(channels)} channel(s) negotiated")
    is_final = data.get("isFinal")
    if not isinstance(is_final, bool):
        raise TranscriptError("isFinal is not a boolean")
    offset = _duration(data["offset"], "offset") if "offset" in data else None
    duration = _duration(data["duration"], "duration") if "duration" in data else None
    if offset is None or duration is None:
        warnings.append("transcript without offset or duration")
    alternatives = data.get("alternatives")
    if not isinstance(alternatives, list) or not alternatives:
        raise TranscriptError("alternatives is missing or empty")
    best = alternatives[0]
    for i, alt in enumerate(alternatives):
        if not isinstance(alt, dict):
            raise TranscriptError(f"alternative {i} is not an object")
        _confidence(alt.get("confidence"), f"alternative {i}")
        langs = alt.get("languages")
        if langs is not None and (not isinstance(langs, list) or not all(isinstance(x, str) for x in langs)):
            raise TranscriptError(f"alternative {i} languages is not an array of strings")
        interpretations = alt.get("interpretations")
        if not isinstance(interpretations, list) or not interpretations:
            raise TranscriptError(f"alternative {i} has no interpretations")
        for interp in interpretations:
            if not isinstance(interp, dict) or interp.get("type") != "display":
                raise TranscriptError("interpretation type is not 'display'")
            if not isinstance(interp.get("transcript"), str):
                raise TranscriptError("interpretation transcript is not a string")
            tokens = interp.get("tokens", [])
            if not isinstance(tokens, list):
                raise TranscriptError("tokens is not an array")
            parsed = [_token(t, j) for j, t in enumerate(tokens)]
            offsets = [t.offset for t in parsed]
            if len(set(offsets)) != len(offsets):
                raise TranscriptError("token offsets are not unique within an interpretation")
    interp0 = best["interpretations"][0]
    tokens0 = tuple(_token(t, j) for j, t in enumerate(interp0.get("tokens", [])))
    if offset is not None and duration is not None:
        slack = 0.05
        for tok in tokens0:
            if tok.offset < offset - slack or tok.offset + tok.duration > offset + duration + slack:
                warnings.append("token outside its utterance's [offset, offset + duration]")
                break
    langs0 = best.get("languages")
    transcript = Transcript(
        id=tid,
        channel_id=channel_id,
        channel=channels[channel_id] if channel_id < len(channels) else None,
        is_final=is_final,
        offset=offset,
        duration=duration,
        text=interp0["transcript"],
        confidence=float(best["confidence"]),
        language=langs0[0] if langs0 else None,
        tokens=tokens0,
        received_at=received_at,
        stream_position=stream_position,
        event_seq=event_seq,
    )
    return transcript, warnings
