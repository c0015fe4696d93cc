"""Fuzzing the AudioHook session machine (``connector/protocol/session.py``) and its outbox.

A session is driven the way the runtime drives it (``connector/nursery/session.py``): text and
binary frames from a client, the runtime's own calls (``disconnect`` on a timeout or a
shutdown, an engine's failure, ``transcription_stopped`` once recognizers stopped after a
``StopTranscription(then_closed=True)``, transcripts from the recognizers) and the writer asking
``next_message`` as time passes. The client's messages are valid ones of every type, in every
state, and mutations of them: wrong ``seq``/``id``/``version``/``serverseq``, missing, extra
and wrong-typed fields, unknown types, huge strings, NaN and lone surrogates, non-JSON, binary
of odd sizes. After every step:

* no exception escapes;
* every message written is strict JSON (what a JavaScript client parses), encodes as UTF-8,
  and carries ``version`` "2", the session id and a ``seq`` one above the last;
* a violation queues exactly one ``disconnect`` (reason ``error``, the violation's non-empty
  ``info``) unless the session is closing or already asked the client to end it; a session
  never sends two ``disconnect``\\s;
* violations we know we sent (bad ``seq``, ``id``, ``version``, JSON...) are all seen;
* the runtime is never asked to start recognizers twice, nor to stop ones that do not run;
* ``closed`` comes only after the client's ``close``, and nothing at all after ``closed``;
* at the end, a client that sends ``close`` gets ``closed``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from hypothesis import example, given, note
from hypothesis import strategies as st

from connector.protocol import (
    Audio,
    AwaitClose,
    Backoff,
    Closing,
    Discarded,
    FlushTranscription,
    Opened,
    Outbox,
    Outgoing,
    SessionMachine,
    StartTranscription,
    State,
    StopTranscription,
    Track,
    format_duration,
)
from connector.vocabulary import Hypothesis
from tests.protocol.machine_client import INVERTED, MONO, NIL, ORG, SID, STEREO, Policy

OTHER_UUID = "14b5152d-4700-4969-b721-e3f004eb8b62"
L16_STEREO = {"type": "audio", "format": "L16", "channels": ["external", "internal"], "rate": 8000}
EFFECT_TYPES = (
    Audio, AwaitClose, Backoff, Closing, Discarded, FlushTranscription, Opened, StartTranscription, StopTranscription
)  # fmt: skip
DISCONNECT_REASONS = {"error", "unauthorized", "completed"}


@dataclass
class SpyMachine(SessionMachine):
    """The machine, noting each violation it handles and the state it was in."""

    violations: list[tuple[str, State]] = field(default_factory=list)

    def _violation(self, info: str) -> Any:
        self.violations.append((info, self.state))
        return super()._violation(info)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(text: str) -> Any:
    """What a JavaScript client's ``JSON.parse`` accepts (no NaN, no Infinity)."""
    return json.loads(text, parse_constant=_no_constant)


class Runtime:
    """Plays the runtime and the writer around the machine, checking every rule it can see."""

    def __init__(self, machine: SpyMachine) -> None:
        self.machine = machine
        self.now = 0.0
        self.position = 0.0
        self.written: list[dict[str, Any]] = []
        self.running = False
        self.stop_then_closed = False
        self.close_received = False
        self.disconnects = 0
        self.violations_seen = 0

    # ------------------------------------------------------------ effects

    def apply(self, effects: list[Any]) -> None:
        for effect in effects:
            assert isinstance(effect, EFFECT_TYPES), effect
            if isinstance(effect, StartTranscription):
                assert not self.running, "StartTranscription while recognizers run"
                assert not self.close_received and self.machine.state is not State.CLOSED
                self.running = True
            elif isinstance(effect, StopTranscription):
                # Without running recognizers only as "tell me when the stopped ones are done" at close.
                assert self.running or effect.then_closed, "StopTranscription without recognizers"
                self.running = False
                self.stop_then_closed = self.stop_then_closed or effect.then_closed
            elif isinstance(effect, Audio):
                assert effect.seconds >= 0 and math.isfinite(effect.seconds)
                assert not effect.channels or self.running, "audio to transcribe without recognizers"
            elif isinstance(effect, Backoff):
                assert effect.seconds >= 0
                self.machine.outbox.backoff(effect.seconds, self.now)
            elif isinstance(effect, Closing):
                self.close_received = True

    def step(self, effects: list[Any], *, known_violation: bool = False) -> None:
        """Apply what one input returned, let the writer write, and check the rules."""
        disconnects_before = self.disconnects
        self.apply(effects)
        sent = self.write()
        new = self.machine.violations[self.violations_seen :]
        self.violations_seen = len(self.machine.violations)
        if known_violation:
            assert new, "a violation went unnoticed"
        assert len(new) <= 1
        disconnects = [m for m in sent if m["type"] == "disconnect"]
        for info, state in new:
            assert info and isinstance(info, str)
            if state not in (State.CLOSING, State.CLOSED) and disconnects_before == 0:
                assert [d["parameters"] for d in disconnects] == [{"reason": "error", "info": info}]

    def write(self) -> list[dict[str, Any]]:
        """The writer: take every message that may go now."""
        sent = []
        while True:
            answer = self.machine.next_message(self.now)
            if not isinstance(answer, Outgoing):
                assert answer is None or (isinstance(answer, float) and answer > self.now)
                return sent
            assert not self.written or self.written[-1]["type"] != "closed", "a message after closed"
            answer.text.encode("utf-8")  # what the connection does with it: no lone surrogates
            message = strict_json(answer.text)
            assert message["type"] == answer.type
            assert message["version"] == "2" and message["id"] == SID
            assert message["seq"] == len(self.written) + 1
            assert isinstance(message["clientseq"], int) and isinstance(message["parameters"], dict)
            if message["type"] == "disconnect":
                self.disconnects += 1
                assert self.disconnects == 1, "a second disconnect"
                assert message["parameters"]["reason"] in DISCONNECT_REASONS
                assert isinstance(message["parameters"]["info"], str) and message["parameters"]["info"]
            if message["type"] == "closed":
                assert self.close_received, "closed without the client's close"
                assert self.machine.state is State.CLOSED
            self.written.append(message)
            sent.append(message)

    # ------------------------------------------------------------ the client

    def envelope(self, msg_type: str, params: Any) -> dict[str, Any]:
        return {
            "version": "2",
            "type": msg_type,
            "id": SID,
            "seq": self.machine.last_client_seq + 1,
            "serverseq": len(self.written),
            "position": format_duration(self.position),
            "parameters": params,
        }

    def text(self, text: str, *, known_violation: bool = False) -> None:
        note(f"text in {self.machine.state.value}: {text[:300]!r}{' (a violation)' if known_violation else ''}")
        closed_before = self.machine.state is State.CLOSED
        effects = self.machine.receive_text(text)
        if closed_before:
            assert effects == [] and self.machine.next_message(self.now) is None
        self.step(effects, known_violation=known_violation and not closed_before)

    def binary(self, data: bytes) -> None:
        note(f"binary in {self.machine.state.value}: {len(data)} bytes")
        effects = self.machine.receive_binary(data)
        if any(isinstance(e, Audio) for e in effects):
            self.position += sum(e.seconds for e in effects if isinstance(e, Audio))
        self.step(effects)


# ------------------------------------------------------------------ strategies

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
durations = st.one_of(
    st.floats(0, 300).map(format_duration),
    st.sampled_from(["PT0S", "PT.5S", "PT1.S", "PT00001.000S", "PT" + "9" * 30 + "S", "PT" + "9" * 400 + "S",
                     "PT1e9S", "P1D", "PT-1S", "", "PT1M"]),
)  # fmt: skip
languages = st.sampled_from(["en-US", "es-ES", "de-DE", "english", "", "EN-us", None, 7])
offers = st.lists(
    st.one_of(st.sampled_from([STEREO, INVERTED, MONO, L16_STEREO]), json_values,
              st.fixed_dictionaries({"type": st.just("audio"), "format": st.sampled_from(["PCMU", "L16", "OPUS"]),
                                     "channels": st.lists(st.sampled_from(["external", "internal", "x"]), max_size=3),
                                     "rate": st.sampled_from([8000, 8000.0, 16000, "8000"])})),
    max_size=3,
)  # fmt: skip


@st.composite
def parameters(draw: st.DrawFn, msg_type: str) -> dict[str, Any]:
    """Parameters a client could plausibly send for ``msg_type`` (most valid, some not)."""
    if msg_type == "open":
        params: dict[str, Any] = {
            "organizationId": draw(st.sampled_from([ORG, ORG, ORG.upper(), OTHER_UUID])),
            "conversationId": draw(st.sampled_from([OTHER_UUID, NIL])),
            "participant": {"id": draw(st.sampled_from([OTHER_UUID, NIL])), "ani": "", "aniName": "", "dnis": ""},
            "media": draw(offers),
        }
        if (language := draw(languages)) is not None:
            params["language"] = language
        if draw(st.booleans()):
            params["supportedLanguages"] = draw(st.sampled_from([True, False, "yes"]))
        if draw(st.booleans()):
            params["customConfig"] = draw(st.fixed_dictionaries({}, optional={
                "transcriptionVendor": st.sampled_from(["scripted", "other", 5, None]),
                "partialResults": st.sampled_from([True, False, "no"]),
                "enableTranslation": st.booleans(),
                "inputLanguage": languages,
            }))  # fmt: skip
        return params
    if msg_type == "ping":
        return draw(st.sampled_from([{}, {"rtt": "PT0.012S"}]))
    if msg_type == "update":
        language = draw(languages)
        return {} if language is None else {"language": language}
    if msg_type in ("resumed", "discarded"):
        return {"start": draw(durations), "discarded": draw(durations)}
    if msg_type == "error":
        params = {"code": draw(st.sampled_from([400, 408, 409, 413, 415, 429, 429, 500])), "message": "oops"}
        if draw(st.booleans()):
            params["retryAfter"] = draw(durations)
        return params
    if msg_type == "close":
        return {"reason": draw(st.sampled_from(["end", "error", "disconnect"]))}
    return {}


message_types = st.sampled_from(
    ["open", "open", "ping", "update", "paused", "resumed", "discarded", "error", "close", "event", "frobnicate"]
)
ENVELOPE = ["version", "type", "id", "seq", "serverseq", "position", "parameters"]
# Mutations that make any message a violation (in any state but CLOSED).
KNOWN_BAD = {"seq", "id", "version", "serverseq", "drop-envelope", "position", "not-json", "too-long", "not-object"}


@st.composite
def client_input(draw: st.DrawFn, runtime: Runtime) -> None:
    """Draw one input and feed it to the runtime's machine."""
    kind = draw(st.sampled_from(
        ["valid", "valid", "valid", "mutated", "mutated", "audio", "audio", "runtime", "transcript"]
    ))  # fmt: skip
    if kind == "audio":
        media = runtime.machine.media
        frame = media.bytes_per_frame if media else 2
        size = draw(st.one_of(st.integers(0, 50).map(lambda n: n * frame), st.integers(0, 37)))
        runtime.binary(draw(st.binary(min_size=size, max_size=size)))
        return
    if kind == "runtime":
        what = draw(st.sampled_from(["disconnect", "engine", "stopped", "time"]))
        if what == "disconnect":
            reason = draw(st.sampled_from(["error", "completed"]))
            runtime.step(runtime.machine.disconnect(reason, "Server is shutting down"))
        elif what == "engine":
            runtime.step(runtime.machine.engine_failed("engine failed: boom"))
        elif what == "stopped" and runtime.stop_then_closed:
            runtime.stop_then_closed = False
            runtime.step(runtime.machine.transcription_stopped())
        else:
            runtime.now += draw(st.sampled_from([0.1, 1.0, 5.0, 60.0]))
            runtime.step([])
        return
    if kind == "transcript":
        hypothesis = Hypothesis(
            utterance=draw(st.integers(0, 3)),
            text=draw(st.sampled_from(["hello there", "", " ", "héllo 😀", "x" * 70_000])),
            is_final=draw(st.booleans()),
            start=draw(st.floats(0, 100)),
            duration=draw(st.floats(0, 10)),
            confidence=draw(st.floats(0, 1)),
        )
        runtime.step(runtime.machine.transcript(TRACK, hypothesis, runtime.now))
        return
    msg_type = draw(message_types)
    message = runtime.envelope(msg_type, draw(parameters(msg_type)))
    if kind == "valid":
        runtime.text(json.dumps(message))
        return
    mutation = draw(st.sampled_from([
        "seq", "id", "version", "serverseq", "drop-envelope", "position", "not-json", "too-long", "not-object",
        "drop-param", "param-type", "extra-field", "type", "huge-string", "nan", "surrogate", "big-number",
    ]))  # fmt: skip
    params = message["parameters"]
    if mutation == "seq":
        message["seq"] = draw(st.one_of(
            st.integers(-3, 10**20).filter(lambda s: s != message["seq"]), st.sampled_from(["1", 1.0, None, True])
        ))  # fmt: skip
    elif mutation == "id":
        message["id"] = draw(st.sampled_from([OTHER_UUID, NIL, "", None, SID + " ", 5]))
    elif mutation == "version":
        message["version"] = draw(st.sampled_from(["1", 2, "2.0", None]))
    elif mutation == "serverseq":
        message["serverseq"] = draw(st.one_of(st.integers(len(runtime.written) + 1, 10**6), st.sampled_from([-1, "0"])))
    elif mutation == "drop-envelope":
        del message[draw(st.sampled_from(ENVELOPE))]
    elif mutation == "position":
        message["position"] = draw(st.sampled_from(["", "PT-1S", "1.0", 1.0, None, "PT1M", "PT1e3S", "PT1S\n", "PT٣S"]))
    elif mutation == "drop-param" and params:
        del params[draw(st.sampled_from(sorted(params)))]
    elif mutation == "param-type" and params:
        params[draw(st.sampled_from(sorted(params)))] = draw(json_values)
    elif mutation == "extra-field":
        target = message if draw(st.booleans()) else params
        target[draw(st.text(max_size=10))] = draw(json_values)
    elif mutation == "type":
        message["type"] = draw(st.one_of(st.text(max_size=50), json_values))
    elif mutation == "huge-string":
        params["x" if draw(st.booleans()) else "language"] = "é" * draw(st.sampled_from([1000, 60_000]))
    elif mutation == "nan":
        params["x"] = float(draw(st.sampled_from(["nan", "inf", "-inf"])))
    elif mutation == "surrogate":
        where = draw(st.sampled_from(["param", "type", "media", "key"]))
        if where == "param":
            params["x"] = "\ud800"
        elif where == "type":
            message["type"] = "\udfff"
        elif where == "media":
            params["media"] = [{**STEREO, "label": "\ud83d"}]
        else:
            params["\udc00"] = 1
    elif mutation == "big-number":
        params["x"] = 10**400 if draw(st.booleans()) else 1e308
    text = json.dumps(message)
    if mutation == "big-number" and params.get("x") == 1e308:
        text = text.replace("1e+308", "1e400")  # a float that is infinite once parsed
    if mutation == "not-json":
        text = draw(st.sampled_from([text[: len(text) // 2], text + "}", "", "null", "[]", text.replace('"', "'")]))
    elif mutation == "too-long":
        text = text[:-1] + ', "pad": "' + "x" * 65_536 + '"}'
    elif mutation == "not-object":
        text = json.dumps([message])
    runtime.text(text, known_violation=mutation in KNOWN_BAD)


TRACK = Track(channel=0, language="en-US", engine="scripted")


@st.composite
def machines(draw: st.DrawFn) -> SpyMachine:
    return SpyMachine(
        session_id=SID,
        organization_id=draw(st.sampled_from([ORG, None])),
        policy=Policy(),
        auth_failure=draw(st.sampled_from([None, None, None, "FAILED: Signatures do not match"])),
        default_language=draw(st.sampled_from([None, "en-US", "xx-XX"])),
        outbox=Outbox(SID, max_queued=draw(st.sampled_from([3, 500])), batch_threshold=draw(st.sampled_from([0, 2]))),
    )


def finish(runtime: Runtime) -> None:
    """The client closes (if it has not) and waits: ``closed`` must come."""
    machine = runtime.machine
    if machine.state is not State.CLOSED:
        runtime.text(json.dumps(runtime.envelope("close", {"reason": "end"})))
    for _ in range(3):
        if runtime.stop_then_closed:
            runtime.stop_then_closed = False
            runtime.step(machine.transcription_stopped())
        runtime.now += 3600.0
        runtime.step([])
    assert machine.state is State.CLOSED
    assert runtime.written and runtime.written[-1]["type"] == "closed"
    assert machine.receive_text(json.dumps(runtime.envelope("ping", {}))) == []
    assert machine.receive_binary(b"\0" * 320) == []
    assert machine.disconnect("error", "late") == []
    assert machine.next_message(runtime.now + 1e6) is None


@given(machines(), st.data())
def test_any_sequence_of_inputs_keeps_the_protocol(machine: SpyMachine, data: st.DataObject) -> None:
    runtime = Runtime(machine)
    for _ in range(data.draw(st.integers(0, 25), label="steps")):
        data.draw(client_input(runtime))
    finish(runtime)


@given(machines(), st.data())
def test_an_opened_session_takes_any_inputs(machine: SpyMachine, data: st.DataObject) -> None:
    """The same, from a valid ``open`` on: most interesting inputs need an open session."""
    runtime = Runtime(machine)
    open_params = data.draw(parameters("open"), label="open")
    open_params.update(organizationId=ORG, conversationId=OTHER_UUID, media=[STEREO])
    runtime.text(json.dumps(runtime.envelope("open", open_params)))
    for _ in range(data.draw(st.integers(0, 30), label="steps")):
        data.draw(client_input(runtime))
    finish(runtime)


@given(st.text(max_size=200), st.binary(max_size=64))
@example('{"version":"2","id":"' + SID + '","type":"open","seq":1,"serverseq":0,"position":"PT' + "9" * 400 + 'S",'
         '"parameters":{}}', b"")  # fmt: skip
def test_random_text_and_binary_in_a_fresh_session(text: str, binary: bytes) -> None:
    runtime = Runtime(SpyMachine(session_id=SID, organization_id=ORG, policy=Policy()))
    runtime.text(text)
    runtime.binary(binary)
    finish(runtime)
