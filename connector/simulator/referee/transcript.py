"""The ``transcript`` entity against its published schema (``EventEntityDataTranscript``).

The reference client only stores what an ``event`` carries; the published type says more, and a
connector's transcripts are what Genesys shows an agent. :func:`parse_transcript` checks an
entity's data against that type (raising :class:`TranscriptError`), flattens it for the
simulator's :class:`~connector.simulator.result.Transcript`, and returns soft warnings for what
the protocol notes only recommend (always sending offsets, tokens inside their utterance).
"""

from __future__ import annotations

from ..result import Token, Transcript
from .rules import is_duration, is_uuid

__all__ = ["TranscriptError", "parse_transcript"]

_TOKEN_SLACK = 0.05  # s a token may stick out of its utterance before we warn


class TranscriptError(ValueError):
    """A ``transcript`` entity does not follow the schema."""


def _confidence(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise TranscriptError(f"{where} confidence {value!r} is not a number in [0, 1]")
    return float(value)


def _duration(value: object, where: str) -> float:
    if not is_duration(value):
        raise TranscriptError(f"{where} is not a Duration: {value!r}")
    assert isinstance(value, str)
    return float(value[2:-1])


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


def _check_alternatives(alternatives: object) -> None:
    if not isinstance(alternatives, list) or not alternatives:
        raise TranscriptError("alternatives is missing or empty")
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
            offsets = [_token(t, j).offset for j, t in enumerate(tokens)]
            if len(set(offsets)) != len(offsets):
                raise TranscriptError("token offsets are not unique within an interpretation")


def parse_transcript(
    data: object,
    *,
    channels: tuple[str, ...],
    received_at: float,
    stream_position: float,
    event_seq: int,
) -> tuple[Transcript, list[str]]:
    """Validate a ``transcript`` entity's data and flatten it; also return soft warnings."""
    if not isinstance(data, dict):
        raise TranscriptError("data is not an object")
    warnings: list[str] = []
    tid = data.get("id")
    if not is_uuid(tid):
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
    _check_alternatives(data.get("alternatives"))
    best = data["alternatives"][0]
    interp0 = best["interpretations"][0]
    tokens0 = tuple(_token(t, j) for j, t in enumerate(interp0.get("tokens", [])))
    if offset is not None and duration is not None:
        for tok in tokens0:
            if tok.offset < offset - _TOKEN_SLACK or tok.offset + tok.duration > offset + duration + _TOKEN_SLACK:
                warnings.append("token outside its utterance's [offset, offset + duration]")
                break
    langs0 = best.get("languages")
    transcript = Transcript(
        id=str(tid),
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
