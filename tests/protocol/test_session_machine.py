"""The sans-IO session machine, driven message by message (no sockets, no clocks)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from connector.audio.codecs import encode_ulaw
from connector.protocol import (
    Audio,
    AwaitClose,
    Backoff,
    Closing,
    Discarded,
    FlushTranscription,
    Opened,
    SessionMachine,
    StartTranscription,
    State,
    StopTranscription,
)
from tests.protocol.machine_client import INVERTED, MONO, NIL, ORG, SID, STEREO, Client, Policy, sends


def test_open_selects_stereo_and_starts_transcription_after_opened(client: Client) -> None:
    effects = client.open(media=[MONO, STEREO], supportedLanguages=True)
    assert sends(effects) == ["opened"]
    assert isinstance(effects[0], StartTranscription)  # opened is queued before the engine starts
    opened = client.last()
    assert opened["seq"] == 1 and opened["clientseq"] == 1
    assert opened["parameters"] == {
        "media": [STEREO],
        "supportedLanguages": ["en-US", "es-ES"],
        "startPaused": False,
    }
    assert effects[0].settings.channels == ("external", "internal")


def test_inverted_stereo_is_echoed_exactly(client: Client) -> None:
    effects = client.open(media=[INVERTED, MONO])
    assert client.last()["parameters"]["media"] == [INVERTED]
    assert effects[0].settings.channels == ("internal", "external")


def test_mono_only_offer_accepted(client: Client) -> None:
    client.open(media=[MONO])
    assert client.last()["parameters"]["media"] == [MONO]


def test_no_usable_media_answers_empty_list(client: Client) -> None:
    effects = client.open(media=[{"type": "audio", "format": "OPUS", "channels": ["external"], "rate": 48000}])
    assert client.last()["parameters"]["media"] == []
    assert not any(isinstance(e, StartTranscription) for e in effects)


def test_supported_languages_only_when_asked(client: Client) -> None:
    client.open()
    assert "supportedLanguages" not in client.last()["parameters"]


def test_probe_opens_without_engine_then_closes(client: Client) -> None:
    params_participant = {"id": NIL, "ani": "", "aniName": "", "dnis": ""}
    client.seq += 1
    msg = {
        "version": "2", "type": "open", "id": SID, "seq": client.seq, "serverseq": 0, "position": "PT0S",
        "parameters": {"organizationId": ORG, "conversationId": NIL, "participant": params_participant,
                       "media": [STEREO], "supportedLanguages": True, "language": "en-US"},
    }  # fmt: skip
    effects = client.deliver(client.machine.receive_text(json.dumps(msg)))
    assert sends(effects) == ["opened"] and effects == []  # a probe starts no engine
    assert client.machine.is_probe
    assert client.last()["parameters"]["supportedLanguages"] == ["en-US", "es-ES"]
    effects = client.text("close", {"reason": "end"})
    assert sends(effects) == ["closed"]
    assert client.machine.state is State.CLOSED


@pytest.mark.parametrize("language", [None, "de-DE", "english"])
def test_missing_or_unsupported_language_starts_paused_then_update_resumes(client: Client, language: str) -> None:
    effects = client.open(language=language)
    assert client.last()["parameters"]["startPaused"] is True
    assert not any(isinstance(e, StartTranscription) for e in effects)
    client.text("paused")
    effects = client.text("update", {"language": "es-ES"})
    assert sends(effects) == ["updated", "resume"]
    effects = client.text("resumed", {"start": "PT0S", "discarded": "PT0S"})
    assert len(effects) == 1 and isinstance(effects[0], StartTranscription)
    assert effects[0].settings.language == "es-ES"


def test_default_language_used_when_open_has_none() -> None:
    machine = SessionMachine(session_id=SID, organization_id=ORG, policy=Policy(), default_language="es-ES")
    effects = Client(machine).open(language=None)
    assert isinstance(effects[0], StartTranscription) and effects[0].settings.language == "es-ES"


def test_ping_answers_pong_with_ping_seq(client: Client) -> None:
    client.open()
    effects = client.text("ping", {"rtt": "PT0.0123S"})
    assert sends(effects) == ["pong"]
    assert client.last()["clientseq"] == client.seq
    assert client.last()["parameters"] == {}


def test_update_flushes_restarts_in_new_language_and_answers_updated(client: Client) -> None:
    client.open()
    effects = client.text("update", {"language": "es-ES"})
    assert isinstance(effects[0], StopTranscription) and not effects[0].then_closed
    assert sends(effects) == ["updated"]
    assert isinstance(effects[-1], StartTranscription) and effects[-1].settings.language == "es-ES"


def test_update_to_unsupported_language_pauses(client: Client) -> None:
    client.open()
    effects = client.text("update", {"language": "de-DE"})
    assert isinstance(effects[0], StopTranscription)
    assert sends(effects) == ["updated", "pause"]


def test_paused_flushes_and_duplicate_paused_is_ignored(client: Client) -> None:
    client.open()
    assert [type(e) for e in client.text("paused")] == [FlushTranscription]
    assert client.text("paused") == []
    assert client.machine.state is State.PAUSED


def test_resumed_adds_discarded_time_to_the_timeline(client: Client) -> None:
    client.open()
    client.audio(2.0)
    client.text("paused")
    client.position = 5.0  # a tone-style client: position advanced while paused
    client.text("resumed", {"start": "PT2S", "discarded": "PT3S"})
    effects = client.audio(0.5)
    assert isinstance(effects[0], Audio)
    assert effects[0].stream_sample == 5 * 8000
    assert client.machine.counters.discarded_seconds == 3.0


def test_resumed_with_frozen_position_keeps_counting(client: Client) -> None:
    client.open()
    client.audio(2.0)
    client.text("paused")
    client.text("resumed", {"start": "PT2S", "discarded": "PT0S"})
    effects = client.audio(0.5)
    assert effects[0].stream_sample == 2 * 8000


def test_discarded_moves_the_clock(client: Client) -> None:
    client.open()
    client.audio(1.0)
    client.position += 0.3
    client.text("discarded", {"start": "PT1S", "discarded": "PT0.3S"})
    effects = client.audio(0.1)
    assert effects[0].stream_sample == round(1.3 * 8000)


def test_position_resync_from_client(client: Client) -> None:
    client.open()
    client.audio(1.0)
    client.position = 4.0  # the client says it is further along than the audio we got
    client.text("ping")
    effects = client.audio(0.1)
    assert effects[0].stream_sample == 4 * 8000
    assert client.machine.clock.resyncs == 1


def test_audio_is_decoded_per_channel_in_negotiated_order(client: Client) -> None:
    client.open(media=[INVERTED])
    frame = encode_ulaw(np.array([1000, -1000] * 80, dtype=np.int16))
    effects = client.machine.receive_binary(frame)
    first, second = effects[0].channels
    assert (first > 0).all() and (second < 0).all()
    assert len(first) == 80


def test_client_error_is_never_fatal_and_429_backs_off(client: Client) -> None:
    client.open()
    assert client.text("error", {"code": 500, "message": "boom"}) == []
    effects = client.text("error", {"code": 429, "message": "slow down", "retryAfter": "PT2.5S"})
    assert effects == [Backoff(2.5)]
    assert client.machine.state is State.ACTIVE
    assert not client.machine.disconnect_sent


def test_close_stops_engines_then_closed_after_they_finish(client: Client) -> None:
    client.open()
    effects = client.text("close", {"reason": "end"})
    assert effects == [StopTranscription(then_closed=True)]
    assert not client.machine.outbox.finished  # finals may still be sent while closing
    effects = client.deliver(client.machine.transcription_stopped())
    assert sends(effects) == ["closed"]
    assert client.machine.outbox.finished and client.machine.state is State.CLOSED


def test_unknown_message_types_and_fields_are_ignored(client: Client) -> None:
    client.open(futureField={"x": 1})
    assert client.text("somethingNew", {"a": 1}) == []
    assert client.machine.counters.unknown_messages == 1
    assert sends(client.text("ping", {"rtt": "PT0S", "extra": True})) == ["pong"]


@pytest.mark.parametrize(
    ("raw", "info"),
    [
        ("{not json", "not valid JSON"),
        ("[1,2]", "well-formed"),
        ('{"version":"1"}', "version"),
        ("x" * 70000, "too large"),
    ],
)
def test_malformed_messages_disconnect_with_reason(client: Client, raw: str, info: str) -> None:
    client.open()
    effects = client.deliver(client.machine.receive_text(raw))
    assert sends(effects) == ["disconnect"]
    params = client.last()["parameters"]
    assert params["reason"] == "error" and info in params["info"]
    assert any(isinstance(e, StopTranscription) for e in effects)


def test_seq_gap_disconnects(client: Client) -> None:
    client.open()
    client.seq += 1  # skip one
    client.text("ping")
    assert client.last()["type"] == "disconnect"
    assert "seq" in client.last()["parameters"]["info"]


def test_serverseq_ahead_disconnects(client: Client) -> None:
    client.open()
    client.text("ping", serverseq=99)
    assert client.last()["parameters"]["reason"] == "error"
    assert "serverseq" in client.last()["parameters"]["info"]


def test_wrong_session_id_disconnects(client: Client) -> None:
    client.open()
    client.text("ping", id="11111111-2222-3333-4444-555555555555")
    assert "identifier" in client.last()["parameters"]["info"]


def test_audio_before_open_disconnects(client: Client) -> None:
    effects = client.deliver(client.machine.receive_binary(b"\xff\xff"))
    assert sends(effects) == ["disconnect"]
    assert "audio" in client.last()["parameters"]["info"]


def test_odd_frame_length_disconnects(client: Client) -> None:
    client.open()
    effects = client.deliver(client.machine.receive_binary(b"\xff\xff\xff"))
    assert sends(effects) == ["disconnect"]
    assert "multiple of 2" in client.last()["parameters"]["info"]


def test_disconnect_then_close_answers_closed(client: Client) -> None:
    client.open()
    client.deliver(client.machine.receive_binary(b"\xff"))  # odd length: disconnect, recognizers stop
    effects = client.text("close", {"reason": "disconnect"})
    assert effects == [StopTranscription(then_closed=True)] and sends(effects) == []  # their finals go first
    assert sends(client.deliver(client.machine.transcription_stopped())) == ["closed"]


def test_message_before_open_is_a_violation_but_close_is_accepted(machine: SessionMachine) -> None:
    early = Client(SessionMachine(session_id=SID, organization_id=ORG, policy=Policy()))
    effects = early.text("ping")
    assert sends(effects) == ["disconnect"]
    assert early.last()["parameters"] == {"reason": "error", "info": "Expected 'open', received 'ping'"}
    assert sends(early.text("close", {"reason": "disconnect"})) == ["closed"]  # its seq counted
    c = Client(machine)
    effects = c.text("close", {"reason": "end"})
    assert sends(effects) == ["closed"]
    assert c.machine.state is State.CLOSED


def test_organization_mismatch_is_unauthorized(client: Client) -> None:
    client.seq += 1
    msg = {
        "version": "2", "type": "open", "id": SID, "seq": 1, "serverseq": 0, "position": "PT0S",
        "parameters": {"organizationId": "aaaaaaaa-0972-4844-938e-9060eef73d05", "conversationId": SID,
                       "participant": {"id": SID}, "media": [STEREO], "language": "en-US"},
    }  # fmt: skip
    effects = client.deliver(client.machine.receive_text(json.dumps(msg)))
    assert sends(effects) == ["disconnect"]
    assert client.last()["parameters"]["reason"] == "unauthorized"


def test_in_session_auth_failure_disconnects_unauthorized() -> None:
    machine = SessionMachine(session_id=SID, organization_id=ORG, policy=Policy(), auth_failure="FAILED: nope")
    c = Client(machine)
    c.open()
    assert c.last()["parameters"] == {"reason": "unauthorized", "info": "FAILED: nope"}


def test_unknown_vendor_is_refused_with_clear_info(client: Client) -> None:
    effects = client.open(customConfig={"transcriptionVendor": "acme"})
    assert sends(effects) == ["disconnect"]
    assert "acme" in client.last()["parameters"]["info"]
    assert not any(isinstance(e, StartTranscription) for e in effects)


def test_discarded_without_skipped_audio_does_not_move_the_clock(client: Client) -> None:
    client.open()
    client.audio(8.0)
    client.text("discarded", {"start": "PT8S", "discarded": "PT0.5S"})  # position still 8.0
    assert client.machine.receive_binary(encode_ulaw(np.zeros(16, np.int16)))[0].stream_sample == 8 * 8000


def test_the_machine_says_what_happened(machine: SessionMachine) -> None:
    """Lifecycle and counting are effects, so the runtime keeps no flags of its own."""
    client = Client(machine)
    raw_open = machine.receive_text  # the raw effects, before the test client filters them
    client.seq += 1
    opened = raw_open(json.dumps({
        "version": "2", "type": "open", "id": SID, "seq": client.seq, "serverseq": 0, "position": "PT0S",
        "parameters": {"organizationId": ORG, "conversationId": SID, "participant": {"id": SID},
                       "media": [STEREO], "language": "en-US"},
    }))  # fmt: skip
    assert isinstance(opened[0], Opened) and isinstance(opened[1], StartTranscription)
    client.deliver([])
    frame = machine.receive_binary(encode_ulaw(np.zeros(320, np.int16)))
    assert len(frame) == 1 and isinstance(frame[0], Audio) and frame[0].seconds == 0.02
    assert [len(channel) for channel in frame[0].channels] == [160, 160]
    client.position = 0.02
    client.text("paused", {})
    assert machine.receive_binary(encode_ulaw(np.zeros(320, np.int16))) == []  # ignored while paused: not counted
    client.position = 1.02
    resumed = machine.receive_text(json.dumps({
        "version": "2", "type": "resumed", "id": SID, "seq": client.seq + 1, "serverseq": machine.server_seq,
        "position": "PT1.02S", "parameters": {"start": "PT0.02S", "discarded": "PT1S"},
    }))  # fmt: skip
    client.seq += 1
    assert resumed[0] == Discarded(1.0)
    violation = machine.receive_binary(b"\xff")  # odd length: disconnect, then the client must close
    assert violation == [StopTranscription(then_closed=False), AwaitClose()]
    client.deliver([])
    assert client.last()["type"] == "disconnect"
    assert machine.disconnect("error", "again") == []  # only once
    closing = machine.receive_text(json.dumps({
        "version": "2", "type": "close", "id": SID, "seq": client.seq + 1, "serverseq": machine.server_seq,
        "position": "PT1.04S", "parameters": {"reason": "disconnect"},
    }))  # fmt: skip
    assert closing == [Closing(), StopTranscription(then_closed=True)]  # the stopped recognizers may still finish


def test_a_refused_message_with_a_good_envelope_counts_its_seq(machine: SessionMachine) -> None:
    client = Client(machine)
    effects = client.text("open", {"organizationId": ORG, "media": "not a list"})  # bad parameters
    assert sends(effects) == ["disconnect"] and client.last()["parameters"]["reason"] == "error"
    assert sends(client.text("close", {"reason": "disconnect"})) == ["closed"]  # seq 2 follows seq 1
    bad = Client(SessionMachine(session_id=SID, organization_id=ORG, policy=Policy()))
    bad.open()
    bad.seq += 5  # a seq gap is a bad envelope: it does not count
    assert sends(bad.text("ping")) == ["disconnect"]
    bad.seq -= 6  # the client's next message is still the one after the last good seq
    assert bad.text("close", {"reason": "disconnect"}) == [StopTranscription(then_closed=True)]
    assert sends(bad.deliver(bad.machine.transcription_stopped())) == ["closed"]
