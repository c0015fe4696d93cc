"""What the fuzzers found, kept as plain tests (each failed before its fix; docs/testing.md lists them)."""

from __future__ import annotations

import json
import math

import pytest

from connector.protocol import (
    DurationError,
    ProtocolViolation,
    SessionMachine,
    State,
    format_duration,
    parse_client_message,
    parse_duration,
)
from tests.protocol.machine_client import ORG, SID, STEREO, Client, Policy


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def written(client: Client) -> list[dict[str, object]]:
    """Everything the writer takes out, checked as the connection and a JavaScript client would."""
    out = []
    while (message := client.machine.next_message(0.0)) is not None and not isinstance(message, float):
        message.text.encode("utf-8")  # WebSocketConnection.send_message
        out.append(json.loads(message.text, parse_constant=_no_constant))
    return out


def open_session() -> Client:
    client = Client(SessionMachine(session_id=SID, organization_id=ORG, policy=Policy()))
    client.open(media=[STEREO])
    return client


@pytest.mark.parametrize(
    "where",
    [
        {"type": "\udfff"},  # echoed in the disconnect's info ("Expected 'open', received ...")
        {"parameters": {"media": [{**STEREO, "label": "\ud83d"}]}},  # the offer is echoed in opened
        {"parameters": {"\udc00": 1}},
    ],
)
def test_a_lone_surrogate_is_a_violation_and_never_reaches_the_socket(where: dict[str, object]) -> None:
    client = Client(SessionMachine(session_id=SID, organization_id=ORG, policy=Policy()))
    parameters = {
        "organizationId": ORG,
        "conversationId": "14b5152d-4700-4969-b721-e3f004eb8b62",
        "participant": {"id": "fd0821cc-12cb-4a04-9321-f634e703c271"},
        "media": [STEREO],
    }
    message = {"version": "2", "type": "open", "id": SID, "seq": 1, "serverseq": 0, "position": "PT0S",
               "parameters": parameters}  # fmt: skip
    for key, value in where.items():
        if key == "parameters":
            message["parameters"].update(value)  # type: ignore[union-attr]
        else:
            message[key] = value
    client.machine.receive_text(json.dumps(message))  # json.dumps escapes it as "\\udfff"
    sent = written(client)
    assert [m["type"] for m in sent] == ["disconnect"]
    assert sent[0]["parameters"]["reason"] == "error"  # type: ignore[index]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_nan_and_infinite_numbers_are_not_json(literal: str) -> None:
    offer = json.dumps(STEREO)[:-1] + f', "gain": {literal}}}'
    text = (
        f'{{"version":"2","type":"open","id":"{SID}","seq":1,"serverseq":0,"position":"PT0S","parameters":'
        f'{{"organizationId":"{ORG}","conversationId":"14b5152d-4700-4969-b721-e3f004eb8b62",'
        f'"participant":{{"id":"fd0821cc-12cb-4a04-9321-f634e703c271"}},"media":[{offer}]}}}}'
    )
    with pytest.raises(ProtocolViolation, match="not valid JSON"):
        parse_client_message(text)


@pytest.mark.parametrize(
    "value", ["PT" + "9" * 400 + "S", "PT" + "9" * 30 + "S", "PT1" + "0" * 305 + "S", "PT4294967297S"]
)
def test_a_duration_beyond_any_call_is_not_a_duration(value: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(value)


@pytest.mark.parametrize("field", ["position", "start", "discarded", "retryAfter"])
def test_a_huge_duration_anywhere_is_a_violation_not_an_overflow(field: str) -> None:
    client = open_session()
    written(client)
    huge = "PT" + "9" * 400 + "S"  # float("9" * 400) is inf: round(inf * 8000) raised OverflowError
    if field == "position":
        client.receive("ping", {}, position=huge)
    elif field == "retryAfter":
        client.receive("error", {"code": 429, "retryAfter": huge})
    else:
        client.receive("discarded", {"start": "PT0S", "discarded": "PT0S"} | {field: huge}, position=huge)
    sent = written(client)
    assert [m["type"] for m in sent] == ["disconnect"]
    assert client.machine.state is State.ACTIVE


@pytest.mark.parametrize("seconds", [math.inf, -math.inf, math.nan])
def test_format_duration_refuses_what_is_not_a_number_of_seconds(seconds: float) -> None:
    with pytest.raises(DurationError):
        format_duration(seconds)


def test_the_longest_duration_still_round_trips() -> None:
    assert parse_duration(format_duration(2.0**32)) == 2.0**32
