"""Fuzzing what every client text goes through first: ``parse_client_message`` and the Durations.

* :func:`parse_duration` takes anything: a float in [0, ``MAX_SECONDS``] or :class:`DurationError`.
* :func:`format_duration` of any float is a Duration :func:`parse_duration` reads back (to the
  millisecond), or :class:`DurationError` for NaN, the infinities and more than ``MAX_SECONDS``.
* :func:`parse_client_message` of any text (random, JSON of random values, near-valid envelopes)
  is a :class:`ClientMessage` or a :class:`ProtocolViolation` with a non-empty ``info``.
"""

from __future__ import annotations

import json
import math

from hypothesis import example, given
from hypothesis import strategies as st

from connector.protocol import ClientMessage, DurationError, ProtocolViolation, parse_client_message
from connector.protocol.durations import MAX_SECONDS, format_duration, parse_duration
from tests.protocol.machine_client import SID


@given(st.one_of(st.from_regex(r"^PT(\d*\.)?\d+S$"), st.text(max_size=30), st.floats(), st.none(), st.integers()))
@example("PT1S\n")  # "$" let the newline through; float("1S") then raised ValueError
@example("PT٣S")  # an Arabic-Indic three
@example("PT" + "9" * 400 + "S")  # infinite as a float
def test_parse_duration_is_a_bounded_float_or_a_duration_error(value: object) -> None:
    try:
        seconds = parse_duration(value)
    except DurationError:
        return
    assert isinstance(value, str) and value.isascii()
    assert 0.0 <= seconds <= MAX_SECONDS


@given(st.floats())
@example(float(2**32) + 1)
@example(-1.797693134862316e305)  # negative and huge: round(seconds * 1000) overflowed before the clamp
def test_format_duration_round_trips_or_refuses(seconds: float) -> None:
    try:
        text = format_duration(seconds)
    except DurationError:
        assert math.isnan(seconds) or math.isinf(seconds) or seconds > MAX_SECONDS
        return
    assert abs(parse_duration(text) - max(0.0, seconds)) <= 0.0005 + 1e-12 * abs(seconds)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "version": st.sampled_from(["2", 2, "1"]),
        "id": st.sampled_from([SID, SID.upper(), "x"]),
        "type": st.one_of(st.sampled_from(["open", "ping", "update", "resumed", "discarded", "error", "close"]),
                          st.text(max_size=8), json_values),
        "seq": st.one_of(st.integers(-2, 5), json_values),
        "serverseq": st.one_of(st.integers(-2, 5), json_values),
        "position": st.one_of(st.sampled_from(["PT0S", "PT1.5S"]), json_values),
        "parameters": st.one_of(st.dictionaries(
            st.sampled_from(["start", "discarded", "code", "retryAfter", "language", "media", "participant",
                             "organizationId", "conversationId", "customConfig", "reason", "rtt"]),
            json_values, max_size=6), json_values),
    },
)  # fmt: skip


@given(st.one_of(st.text(max_size=200), json_values.map(json.dumps), envelopes.map(json.dumps)))
@example('{"version":"2","id":"' + SID + '","type":"ping","seq":1,"serverseq":0,"position":"PT1S\\n","parameters":{}}')
@example("[" * 100_000)  # deep nesting: RecursionError inside json
@example('{"seq": 1' + "0" * 5000 + "}")  # an integer over Python's 4300-digit limit
def test_parse_client_message_returns_a_message_or_a_violation(text: str) -> None:
    try:
        message = parse_client_message(text)
    except ProtocolViolation as violation:
        assert isinstance(violation.info, str) and violation.info
        return
    assert isinstance(message, ClientMessage)
    assert message.seq >= 0 and message.serverseq >= 0 and 0 <= message.position <= MAX_SECONDS
