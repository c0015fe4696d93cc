"""A session's records: its row, and each final exactly as the call got it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from connector.protocol import Outgoing, SessionMachine, Track
from connector.report import Outcome, SessionReport
from connector.store.journal import SessionJournal
from connector.store.records import Delivery, SessionRecord, Subscription, UtteranceRecord
from connector.vocabulary import Hypothesis, Word
from tests.protocol.machine_client import ORG, SID, Client, Policy

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


class Sink:
    def __init__(self) -> None:
        self.sessions: list[SessionRecord] = []
        self.utterances: list[UtteranceRecord] = []
        self.queued: list[Delivery] = []

    def session(
        self, record: SessionRecord, then: Callable[[], None] | None = None, deliveries: Sequence[Delivery] = ()
    ) -> None:
        self.sessions.append(record)
        self.deliveries(deliveries)
        if then is not None:
            then()

    def utterance(self, record: UtteranceRecord, deliveries: Sequence[Delivery] = ()) -> None:
        self.utterances.append(record)
        self.deliveries(deliveries)

    def deliveries(self, deliveries: Sequence[Delivery]) -> None:
        self.queued.extend(deliveries)


def opened_call() -> tuple[SessionMachine, SessionJournal, Sink]:
    machine = SessionMachine(session_id=SID, organization_id=ORG, policy=Policy())
    Client(machine).open()
    sink = Sink()
    journal = SessionJournal(sink, session_id=SID, organization_id=ORG, correlation_id="corr", replica="r1",
                             clock=lambda: NOW)  # fmt: skip
    journal.opened(machine)
    return machine, journal, sink


def written(machine: SessionMachine, journal: SessionJournal) -> list[dict[str, object]]:
    sent = []
    while isinstance(message := machine.next_message(100.0), Outgoing):
        journal.written(message, machine)
        sent.append(json.loads(message.text))
    return sent


def test_a_final_is_recorded_as_sent_and_partials_are_not() -> None:
    machine, journal, sink = opened_call()
    track = Track(channel=1, language="en-US", engine="scripted", to_stream=lambda s: s + 2.0)
    words = (Word("hello", 0.5, 0.3, 0.9), Word("there", 0.9, 0.4, 0.8))
    machine.transcript(track, Hypothesis(0, "hello", False, 0.5, 0.3, 0.5))
    machine.transcript(track, Hypothesis(0, "hello there", True, 0.5, 0.8, 0.85, words))
    sent = written(machine, journal)
    entities = [e["data"] for m in sent if m["type"] == "event" for e in m["parameters"]["entities"]]
    final = next(e for e in entities if e["isFinal"])
    assert len(sink.utterances) == 1
    stored = sink.utterances[0]
    assert stored.utterance_id == final["id"] and stored.channel == 1 and stored.role == "internal"
    assert (stored.offset, stored.duration) == (2.5, 0.8)
    assert stored.text == "hello there" and stored.confidence == 0.85 and stored.language == "en-US"
    assert [(w.value, w.offset, w.duration) for w in stored.words] == [("hello", 2.5, 0.3), ("there", 2.9, 0.4)]
    assert stored.translation is None and stored.engine == "scripted" and stored.sent_at == NOW
    assert stored.conversation_id == machine.conversation_id and stored.session_id == SID


def test_a_translated_final_keeps_what_was_said_and_what_was_sent() -> None:
    machine, journal, sink = opened_call()
    track = Track(channel=0, language="es-ES", engine="scripted")
    translated = Hypothesis(0, "good morning", True, 0.0, 1.0, 0.9, language="en-US",
                            source_text="buenos días", source_language="es-ES")  # fmt: skip
    machine.transcript(track, translated)
    written(machine, journal)
    stored = sink.utterances[0]
    assert (stored.text, stored.language) == ("buenos días", "es-ES")
    assert stored.translation is not None
    assert (stored.translation.text, stored.translation.language) == ("good morning", "en-US")


def test_the_session_row_follows_the_call_to_its_end() -> None:
    machine, journal, sink = opened_call()
    opened = sink.sessions[0]
    assert opened.outcome is None and opened.ended_at is None and opened.transcribing
    assert opened.channels == ("external", "internal") and opened.participant["id"]
    assert opened.correlation_id == "corr" and opened.replica == "r1"
    machine.counters.audio_seconds = 12.5
    journal.progress(machine, 10.0)
    report = SessionReport(outcome=Outcome.COMPLETED)
    journal.ended(machine, report, 12.0)
    ended = sink.sessions[-1]
    assert ended.outcome == "completed" and ended.ended_at == NOW and not ended.transcribing
    assert (ended.audio_seconds, ended.transcribed_seconds) == (12.5, 12.0)


def test_probes_and_refused_calls_are_not_recorded() -> None:
    machine = SessionMachine(session_id=SID, organization_id=ORG, policy=Policy())
    Client(machine).open(conversationId="00000000-0000-0000-0000-000000000000",
                         participant={"id": "00000000-0000-0000-0000-000000000000"})  # fmt: skip
    sink = Sink()
    journal = SessionJournal(sink, session_id=SID, organization_id=ORG, correlation_id="c", replica="r")
    journal.opened(machine)
    journal.ended(machine, SessionReport(outcome=Outcome.PROBE), 0.0)
    assert sink.sessions == []
    refused = SessionMachine(session_id=SID, organization_id=ORG, policy=Policy())
    Client(refused).open(customConfig={"transcriptionVendor": "nope"})
    journal.opened(refused)
    assert sink.sessions == []


def test_events_become_deliveries_for_the_subscriptions_that_want_them() -> None:
    machine = SessionMachine(session_id=SID, organization_id=ORG, policy=Policy())
    Client(machine).open()
    everything = Subscription("all", "https://a.example/hook", frozenset({"conversation.started", "utterance.final",
                              "utterance.partial", "conversation.ended"}), NOW)  # fmt: skip
    agents = Subscription("agents", "https://b.example/hook", frozenset({"utterance.final"}), NOW,
                          roles=frozenset({"internal"}))  # fmt: skip
    other_org = Subscription("other", "https://c.example/hook", frozenset({"utterance.final"}), NOW,
                             organization_id="00000000-0000-0000-0000-000000000001")  # fmt: skip
    sink = Sink()
    journal = SessionJournal(sink, session_id=SID, organization_id=ORG, correlation_id="c", replica="r",
                             clock=lambda: NOW, subscriptions=lambda: (everything, agents, other_org))  # fmt: skip
    journal.opened(machine)
    customer = Track(channel=0, language="en-US", engine="scripted")
    agent = Track(channel=1, language="en-US", engine="scripted")
    machine.transcript(customer, Hypothesis(0, "hello", False, 0.0, 0.5, 0.5))
    written(machine, journal)  # the partial goes out before its final replaces it
    machine.transcript(customer, Hypothesis(0, "hello there", True, 0.0, 1.0, 0.9))
    machine.transcript(agent, Hypothesis(0, "how can I help", True, 1.5, 1.0, 0.9))
    written(machine, journal)
    journal.ended(machine, SessionReport(outcome=Outcome.COMPLETED), 3.0)
    events = [(d.subscription_id, d.event) for d in sink.queued]
    assert events == [
        ("all", "conversation.started"),
        ("all", "utterance.partial"),
        ("all", "utterance.final"),
        ("all", "utterance.final"),
        ("agents", "utterance.final"),
        ("all", "conversation.ended"),
    ]
    final = next(d for d in sink.queued if d.subscription_id == "agents")
    assert final.payload["type"] == "utterance.final"
    assert final.payload["data"]["text"] == "how can I help" and final.payload["data"]["role"] == "internal"
    assert final.payload["data"]["utteranceId"] == sink.utterances[1].utterance_id
    assert len({d.id for d in sink.queued}) == len(sink.queued)  # one webhook-id per delivery
    assert [u.text for u in sink.utterances] == ["hello there", "how can I help"]  # the partial is not stored
