"""The control API's start and stop, as the sans-IO session machine applies them."""

from __future__ import annotations

from connector.protocol import (
    Audio,
    ControlRequest,
    FlushTranscription,
    SessionMachine,
    StartTranscription,
    State,
    StopTranscription,
)
from tests.protocol.machine_client import ORG, SID, Client, Policy


def on_start_machine() -> tuple[SessionMachine, Client]:
    machine = SessionMachine(session_id=SID, organization_id=ORG, policy=Policy(), transcription_allowed=False)
    return machine, Client(machine)


def kinds(effects: list[object]) -> list[type]:
    return [type(effect) for effect in effects]


def test_on_start_opens_without_transcribing_and_counts_audio_it_does_not_feed() -> None:
    machine, client = on_start_machine()
    step = client.open()
    assert step.sent == ["opened"] and not any(isinstance(e, StartTranscription) for e in step)
    effects = machine.receive_binary(bytes(320))  # 20 ms of stereo silence
    assert effects == [Audio(0.02)]  # counted, not transcribed
    assert machine.counters.audio_seconds == 0.02


def test_start_begins_where_the_stream_is_and_stop_ends_the_recognizers() -> None:
    machine, client = on_start_machine()
    client.open()
    client.audio(1.0)
    started = machine.control(ControlRequest(version=1, start=True))
    assert kinds(started) == [StartTranscription]
    assert machine.transcribing
    fed = machine.receive_binary(bytes(320))
    assert isinstance(fed[0], Audio) and fed[0].channels and fed[0].stream_sample == 8000  # offsets stay exact
    assert machine.control(ControlRequest(version=2, start=False)) == [StopTranscription(then_closed=False)]
    assert not machine.transcribing
    assert machine.receive_binary(bytes(320)) == [Audio(0.02)]


def test_versions_apply_once_and_in_order() -> None:
    machine, client = on_start_machine()
    client.open()
    assert kinds(machine.control(ControlRequest(version=3, start=True))) == [StartTranscription]
    assert machine.control(ControlRequest(version=2, start=False)) == []  # older: ignored
    assert machine.control(ControlRequest(version=3, start=False)) == []  # same: ignored
    assert machine.transcribing and machine.control_version == 3


def test_a_start_with_another_language_restarts_the_recognizers() -> None:
    machine, client = on_start_machine()
    client.open()
    machine.control(ControlRequest(version=1, start=True))
    effects = machine.control(ControlRequest(version=2, start=True, language="es-ES"))
    assert kinds(effects) == [StopTranscription, StartTranscription]
    assert isinstance(effects[1], StartTranscription) and effects[1].settings.language == "es-ES"
    # The same start again changes nothing.
    assert machine.control(ControlRequest(version=3, start=True, language="es-ES")) == []


def test_a_start_in_an_unsupported_language_keeps_the_calls_own() -> None:
    machine, client = on_start_machine()
    client.open()
    effects = machine.control(ControlRequest(version=1, start=True, language="xx-XX"))
    assert kinds(effects) == [StartTranscription]
    assert isinstance(effects[0], StartTranscription) and effects[0].settings.language == "en-US"


def test_a_start_while_paused_waits_for_resumed() -> None:
    machine, client = on_start_machine()
    client.open()
    client.text("paused")
    assert machine.state is State.PAUSED
    assert machine.control(ControlRequest(version=1, start=True)) == []
    step = client.text("resumed", {"start": "PT0S", "discarded": "PT0S"})
    assert kinds(list(step)) == [StartTranscription]


def test_stop_in_always_mode_holds_across_pause_and_resume() -> None:
    machine = SessionMachine(session_id=SID, organization_id=ORG, policy=Policy())
    client = Client(machine)
    assert kinds(list(client.open())) == [StartTranscription]
    client.text("paused")
    assert machine.control(ControlRequest(version=1, start=False)) == [StopTranscription(then_closed=False)]
    step = client.text("resumed", {"start": "PT0S", "discarded": "PT0S"})
    assert not any(isinstance(e, StartTranscription) for e in step)


def test_after_close_or_disconnect_a_start_starts_nothing() -> None:
    machine, client = on_start_machine()
    client.open()
    machine.disconnect("error", "testing")
    assert machine.control(ControlRequest(version=1, start=True)) == []
    machine2, client2 = on_start_machine()
    client2.open()
    client2.text("close")
    assert machine2.control(ControlRequest(version=1, start=True)) == []


def test_update_while_stopped_changes_the_language_without_starting() -> None:
    machine, client = on_start_machine()
    client.open()
    step = client.text("update", {"language": "es-ES"})
    assert step.sent == ["updated"] and not any(isinstance(e, (StartTranscription, FlushTranscription)) for e in step)
    effects = machine.control(ControlRequest(version=1, start=True))
    assert isinstance(effects[0], StartTranscription) and effects[0].settings.language == "es-ES"
