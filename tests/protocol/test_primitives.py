"""Durations, message parsing, media choice and transcript entities."""

from __future__ import annotations

import json
import re

import pytest

from connector.asr import Hypothesis, Word
from connector.protocol import (
    DurationError,
    ProtocolViolation,
    format_duration,
    parse_client_message,
    parse_duration,
    select_media,
    transcript_entity,
)

DURATION = re.compile(r"^PT(\d*\.)?\d+S$")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "PT0S"), (1e-5, "PT0S"), (0.001, "PT0.001S"), (1.2, "PT1.2S"), (61.25, "PT61.25S"), (-0.0004, "PT0S"),
     (3600.0, "PT3600S"), (0.0015, "PT0.002S")],
)  # fmt: skip
def test_format_duration_is_fixed_point_seconds(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert DURATION.match(text)


@pytest.mark.parametrize("text", ["PT1M2S", "PT-1S", "PT1e-5S", "1.2", "PTS", "", None, 5])
def test_parse_duration_rejects_other_forms(text: object) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


def test_parse_duration_accepts_protocol_examples() -> None:
    assert parse_duration("PT0.001758756S") == pytest.approx(0.001758756)
    assert parse_duration("PT.5S") == 0.5


def _msg(**overrides: object) -> str:
    base: dict[str, object] = {
        "version": "2", "type": "ping", "id": "06b64c57-4430-46c9-a004-3a58a6f8e948", "seq": 1,
        "serverseq": 0, "position": "PT0S", "parameters": {},
    }  # fmt: skip
    base.update(overrides)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"seq": -1}, "seq"),
        ({"seq": "1"}, "seq"),
        ({"seq": True}, "seq"),
        ({"serverseq": ...}, "serverseq"),
        ({"parameters": ...}, "parameters"),
        ({"parameters": []}, "parameters"),
        ({"position": "PT1M"}, "position"),
        ({"id": "nope"}, "id"),
        ({"type": 3}, "type"),
        ({"type": "error", "parameters": {"code": "429"}}, "code"),
        ({"type": "resumed", "parameters": {"start": "PT1S"}}, "discarded"),
        ({"type": "open", "parameters": {"organizationId": "x"}}, "organizationId"),
    ],
)
def test_envelope_and_parameter_violations(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(ProtocolViolation) as info:
        parse_client_message(_msg(**overrides))
    assert fragment in info.value.info


def test_unknown_fields_are_ignored() -> None:
    message = parse_client_message(_msg(extra={"a": 1}, parameters={"rtt": "PT0.1S", "new": 1}))
    assert message.type == "ping" and message.parameters["new"] == 1


STEREO = {"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}


def test_media_preference_order() -> None:
    inverted = {**STEREO, "channels": ["internal", "external"]}
    mono_int = {**STEREO, "channels": ["internal"]}
    mono_ext = {**STEREO, "channels": ["external"]}
    assert select_media([mono_int, mono_ext, inverted, STEREO]).offer is STEREO  # type: ignore[union-attr]
    assert select_media([mono_int, inverted]).offer is inverted  # type: ignore[union-attr]
    assert select_media([mono_int, mono_ext]).offer is mono_ext  # type: ignore[union-attr]
    l16 = {**STEREO, "format": "L16"}
    assert select_media([l16]).bytes_per_frame == 4  # type: ignore[union-attr]
    assert select_media([{**STEREO, "rate": 16000}, "junk", {**STEREO, "channels": ["a", "b"]}]) is None


def test_transcript_entity_schema_and_absolute_offsets() -> None:
    hypothesis = Hypothesis(
        utterance=0, text="My name is John,", is_final=True, start=0.1, duration=1.6, confidence=1.7,
        words=[Word("My", 0.15, 0.39, 0.9), Word("name", 0.59, 0.23, -1), Word("is", 0.59, 0.1, 0.5)],
    )  # fmt: skip
    entity = transcript_entity(
        hypothesis, utterance_id="e4a22d77-0470-486c-b0f5-a3fd33713457", channel_id=1,
        to_stream=lambda t: t + 1.0, language="en-US",
    )  # fmt: skip
    data = entity["data"]
    assert entity["type"] == "transcript"
    assert data["offset"] == "PT1.1S" and data["duration"] == "PT1.6S" and data["channelId"] == 1
    alternative = data["alternatives"][0]
    assert alternative["confidence"] == 1.0  # clamped into [0, 1]
    assert alternative["languages"] == ["en-US"]
    interpretation = alternative["interpretations"][0]
    assert interpretation["type"] == "display" and interpretation["transcript"] == "My name is John,"
    offsets = [token["offset"] for token in interpretation["tokens"]]
    assert offsets == ["PT1.15S", "PT1.59S", "PT1.591S"]  # absolute, and unique even when the engine repeats
    assert all(0 <= token["confidence"] <= 1 for token in interpretation["tokens"])
    assert all(DURATION.match(token["duration"]) for token in interpretation["tokens"])
