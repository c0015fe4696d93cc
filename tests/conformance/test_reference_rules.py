"""The referee (the one port of the reference client's checks) rejects what the reference rejects (and only that).

Without these, a too-lenient port would let every scenario pass; each case names the reference
behaviour it mirrors and the error code the reference client would send.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from connector.simulator.referee import (
    ClientView,
    ReferenceViolation,
    check_server_message,
    check_supported_languages,
    common_validations,
    transcript_validations,
    validate_media_params,
)

SID = "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
STEREO = {"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}
MONO = {"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 8000}


def frame(msg_type: str, parameters: Any = None, *, seq: float = 1, clientseq: int = 1, **extra: Any) -> str:
    message = {
        "version": "2",
        "type": msg_type,
        "id": SID,
        "seq": seq,
        "clientseq": clientseq,
        "parameters": {} if parameters is None else parameters,
    }
    message.update(extra)
    return json.dumps(message)


def view(state: str = "OPENING", **fields: Any) -> ClientView:
    v = ClientView(SID, [STEREO, MONO], state=state)
    for key, value in fields.items():
        setattr(v, key, value)
    return v


def token(offset: str, confidence: float = 0.9) -> dict[str, Any]:
    return {"type": "word", "value": "hi", "confidence": confidence, "offset": offset, "duration": "PT0.2S"}


def transcript(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": SID,
        "channelId": 0,
        "isFinal": True,
        "offset": "PT1S",
        "duration": "PT0.5S",
        "alternatives": [
            {
                "confidence": 0.9,
                "interpretations": [
                    {"type": "display", "transcript": "hi hi", "tokens": [token("PT1S"), token("PT1.2S")]}
                ],
            }
        ],
    }
    data.update(overrides)
    return data


def test_a_well_formed_session_passes_and_updates_the_view() -> None:
    v = view()
    check_server_message(frame("opened", {"media": [STEREO], "startPaused": False}), v)
    assert v.state == "OPEN" and v.serverseq == 1 and v.initial_ping_timer
    v.pending_ping = 2
    check_server_message(frame("pong", seq=2, clientseq=2), v)
    assert v.pending_ping is None
    entity = {"type": "transcript", "data": transcript()}
    check_server_message(frame("event", {"entities": [entity]}, seq=3, clientseq=2), v)
    assert v.transcripts == [entity["data"]]
    check_server_message(frame("disconnect", {"reason": "completed", "info": "bye"}, seq=4), v)
    v.state, v.seq = "CLOSING", 3
    check_server_message(frame("closed", seq=5, clientseq=3), v)
    common_validations(v.closed_msg, v)


@pytest.mark.parametrize(
    ("raw", "state", "code"),
    [
        (b"\x00\x01", "OPEN", 415),  # onBinaryMessage
        (frame("event", {"entities": [{"type": "x", "data": "😀" * 33000}]}), "OPEN", 413),  # UTF-16 length
        ("{not json", "OPEN", 400),
        ('{"version":"2","type":"pong","id":"' + SID + '","seq":1,"clientseq":NaN,"parameters":{}}', "OPEN", 400),
        (frame("pong", parameters=[]), "OPEN", 400),  # parameters not an object
        (json.dumps({"version": "2", "type": "pong", "id": SID, "seq": 1, "clientseq": 0}), "OPEN", 400),
        (frame("pong", version=2), "OPEN", 400),  # version must be the string "2"
        (frame("pong", id="3f1c2d4e-5a6b-7c7d-8e9f-0a1b2c3d4e5f"), "OPEN", 400),  # UUID version digit 7
        (frame("pong", clientseq=-1), "OPEN", 400),
        (frame("pong", seq=2), "OPEN", 500),  # seq gap
        (frame("bogus"), "OPEN", 500),  # unknown type
        (frame("opened", {"media": [STEREO, MONO]}), "OPENING", 400),  # more than one media
        (frame("opened", {"media": [{**STEREO, "channels": ["internal", "external"]}]}), "OPENING", 400),
        (frame("opened", {"media": [{**MONO, "rate": 16000}]}), "OPENING", 500),  # fails isMediaParameter
        (frame("opened", {"media": [], "discardTo": "PT1M2S"}), "OPENING", 500),
        (frame("opened", {"media": [], "startPaused": "false"}), "OPENING", 500),
        (frame("opened", {"media": [], "supportedLanguages": ["en-US", 5]}), "OPENING", 500),
        (frame("opened", {"media": []}), "OPEN", 409),  # opened twice
        (frame("closed"), "OPEN", 409),  # closed when not closing
        (frame("pause"), "OPENING", 409),
        (frame("pong"), "OPEN", 409),  # no outstanding ping
        (frame("disconnect", {"reason": "timeout"}), "OPEN", 500),
        (frame("disconnect", {"reason": "error", "info": 3}), "OPEN", 500),
        (frame("event", {"entities": []}), "OPEN", 500),  # entities[0].type throws
        (frame("event", {"entities": [{"type": "transcript", "data": None}]}), "OPEN", 500),  # isJsonValue(null)
        (frame("event", {"entities": {"type": "transcript"}}), "OPEN", 500),
    ],
)
def test_what_the_reference_client_rejects(raw: str | bytes, state: str, code: int) -> None:
    with pytest.raises(ReferenceViolation) as caught:
        check_server_message(raw, view(state))
    assert caught.value.code == code


def test_pong_must_answer_the_outstanding_ping() -> None:
    with pytest.raises(ReferenceViolation) as caught:
        check_server_message(frame("pong", clientseq=3), view("OPEN", pending_ping=4))
    assert caught.value.code == 400


def test_leniencies_of_the_reference_are_kept() -> None:
    """Unknown parameters, integral floats, an empty media list and a straggler pong are all fine."""
    v = view()
    check_server_message(frame("opened", {"media": [], "extra": 1}), v)
    check_server_message(frame("updated", {"anything": True}, seq=2.0), v)
    v.state, v.pending_ping = "CLOSING", 2
    check_server_message(frame("pong", seq=3, clientseq=2), v)
    check_server_message(frame("event", {"entities": [{"type": "agentassist", "data": {"x": 1}}]}, seq=4), v)
    assert v.transcripts == []


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        (transcript(channelId=None), "channelId"),
        (transcript(offset=None), "offset"),
        (transcript(alternatives=[]), "alternatives"),
        (transcript(alternatives=[{"confidence": 1.2, "interpretations": [{}]}]), "confidence"),
        (transcript(alternatives=[{"confidence": 0.5, "interpretations": []}]), "interpretations"),
        (
            transcript(alternatives=[{"confidence": 0.5, "interpretations": [{"type": "display", "transcript": "a"}]}]),
            "tokens",
        ),
        (
            transcript(
                alternatives=[
                    {
                        "confidence": 0.5,
                        "interpretations": [
                            {"type": "display", "transcript": "a", "tokens": [token("PT1.0S"), token("PT1S")]}
                        ],
                    }
                ]
            ),
            "already appeared",
        ),
    ],
)
def test_suite_transcript_checks(data: dict[str, Any], complaint: str) -> None:
    with pytest.raises(AssertionError, match=complaint):
        transcript_validations([data])


def test_suite_counts_partials_and_checks_timing() -> None:
    partial = {"isFinal": False, "id": SID}
    transcript_validations([partial, transcript()], None)
    with pytest.raises(AssertionError, match="Number of transcripts"):
        transcript_validations([partial, transcript()], [(1.0, 0.5)])
    transcript_validations([transcript()], [(1.5, 1.0)])  # both exactly at the 0.5 s edge
    with pytest.raises(AssertionError, match="offset"):
        transcript_validations([transcript(offset="PT1.6S")], [(1.0, 0.5)])


def test_suite_media_and_language_checks() -> None:
    validate_media_params([STEREO], [])
    validate_media_params([STEREO, MONO], [MONO])
    with pytest.raises(AssertionError, match="more than 1"):
        validate_media_params([STEREO, MONO], [STEREO, MONO])
    check_supported_languages({"parameters": {"supportedLanguages": ["en-US", "cmn-CN"]}})
    with pytest.raises(AssertionError, match="invalid language code"):
        check_supported_languages({"parameters": {"supportedLanguages": ["en_US"]}})
    with pytest.raises(AssertionError, match="not an array"):
        check_supported_languages({"parameters": {}})
