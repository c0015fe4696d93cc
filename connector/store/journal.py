"""What one session records in the store: its row, and every final exactly as Genesys got it.

An utterance is recorded when its ``event`` has been written to the socket, from the entity that
was sent (same id, offsets and words), so the store never holds a transcript the call did not
get, and never differs from it. A translated final is stored as what was said (``text``, the
spoken language) with the translation sent to Genesys beside it. The session row is written when
the call opens, when a control request changes what it does, every ``progress_every`` seconds
while it runs (so a status read mid-call is recent), and when it ends.

All of it goes through the server's :class:`~connector.store.writer.StoreWriter`: nothing here
blocks or raises into the call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from ..phrases import CompiledRule, PhraseDetector
from ..protocol import Outgoing, SessionMachine, Track
from ..protocol.durations import DurationError, parse_duration
from ..report import SessionReport
from ..vocabulary import Hypothesis
from .events import conversation_event, plan, utterance_event
from .records import Delivery, SessionRecord, Subscription, TranslationRecord, UtteranceRecord, WordRecord

__all__ = ["Journal", "NullJournal", "RecordSink", "SessionJournal"]

log = logging.getLogger(__name__)


class RecordSink(Protocol):
    """Where records go (:class:`~connector.store.writer.StoreWriter`)."""

    def session(
        self, record: SessionRecord, then: Callable[[], None] | None = None, deliveries: Sequence[Delivery] = ()
    ) -> None: ...

    def utterance(self, record: UtteranceRecord, deliveries: Sequence[Delivery] = ()) -> None: ...

    def deliveries(self, deliveries: Sequence[Delivery]) -> None: ...


Redactor = Callable[[UtteranceRecord], UtteranceRecord]
"""Replaces what must not be stored or delivered (card numbers, PINs...) in a record."""


class Journal(Protocol):
    """What the session runtime tells the store (:class:`NullJournal` without a store)."""

    progress_every: float
    engine: str | None
    """The engine transcribing the call now (by its name), set by the runtime."""

    def opened(self, machine: SessionMachine) -> None: ...

    def written(self, message: Outgoing, machine: SessionMachine) -> None: ...

    def progress(
        self, machine: SessionMachine, transcribed_seconds: float, then: Callable[[], None] | None = None
    ) -> None:
        """Update the live session's row; ``then`` runs once it is written (at once without a store)."""
        ...

    def ended(self, machine: SessionMachine, report: SessionReport, transcribed_seconds: float) -> None: ...

    def phrase(self, machine: SessionMachine, data: Mapping[str, Any]) -> None: ...

    def heard(self, machine: SessionMachine, track: Track, hypothesis: Hypothesis) -> None: ...


class NullJournal:
    """Records nothing (no store configured)."""

    progress_every = float("inf")
    engine: str | None = None

    def opened(self, machine: SessionMachine) -> None:
        pass

    def written(self, message: Outgoing, machine: SessionMachine) -> None:
        pass

    def progress(
        self, machine: SessionMachine, transcribed_seconds: float, then: Callable[[], None] | None = None
    ) -> None:
        if then is not None:
            then()

    def ended(self, machine: SessionMachine, report: SessionReport, transcribed_seconds: float) -> None:
        pass

    def phrase(self, machine: SessionMachine, data: Mapping[str, Any]) -> None:
        pass

    def heard(self, machine: SessionMachine, track: Track, hypothesis: Hypothesis) -> None:
        pass


def _now() -> datetime:
    return datetime.now(UTC)


def _seconds(value: object) -> float:
    try:
        return parse_duration(value)
    except DurationError:
        return 0.0


class SessionJournal:
    """One session's records (see the module docstring)."""

    def __init__(
        self,
        sink: RecordSink,
        *,
        session_id: str,
        organization_id: str,
        correlation_id: str,
        replica: str,
        progress_every: float = 10.0,
        clock: Callable[[], datetime] = _now,
        subscriptions: Callable[[], Sequence[Subscription]] = tuple,
        redactor_for: Callable[[Mapping[str, Any]], Redactor | None] = lambda options: None,
        phrase_rules: Callable[[], Sequence[CompiledRule]] = tuple,
        redact_text: Callable[[str, str | None], str] | None = None,
    ) -> None:
        self.phrase_rules = phrase_rules
        """The phrase rules now (configuration and API), asked at each result."""
        self._detector = PhraseDetector()
        self._rules: Sequence[CompiledRule] = ()
        self.redact_text = redact_text
        """How a matched phrase's text is redacted when the call's redaction is on."""
        self.sink = sink
        self.subscriptions = subscriptions
        """The webhook subscriptions now (configuration and API), asked at each event."""
        self.redactor_for = redactor_for
        """The call's redaction (from ``customConfig.redaction`` and the server's default)."""
        self.redact: Redactor | None = None
        self.session_id = session_id
        self.organization_id = organization_id
        self.correlation_id = correlation_id
        self.replica = replica
        self.progress_every = progress_every
        self.clock = clock
        self.started_at: datetime | None = None
        self.transcripts = 0
        self.engine: str | None = None

    def _recording(self, machine: SessionMachine) -> bool:
        return self.started_at is not None and machine.conversation_id is not None

    def opened(self, machine: SessionMachine) -> None:
        """The call was opened (not a probe, not refused): its first row."""
        if machine.conversation_id is None or machine.is_probe or machine.disconnect_sent:
            return
        self.started_at = self.clock()
        self.redact = self.redactor_for(machine.settings.options if machine.settings is not None else {})
        self._session(machine, 0.0, event="conversation.started")

    def progress(
        self, machine: SessionMachine, transcribed_seconds: float, then: Callable[[], None] | None = None
    ) -> None:
        if self._recording(machine):
            self._session(machine, transcribed_seconds, then=then)
        elif then is not None:
            then()

    def ended(self, machine: SessionMachine, report: SessionReport, transcribed_seconds: float) -> None:
        if self._recording(machine):
            self._session(machine, transcribed_seconds, ended=report, event="conversation.ended")

    def written(self, message: Outgoing, machine: SessionMachine) -> None:
        if not message.transcripts or not self._recording(machine):
            return
        sent_at = self.clock()
        subscriptions = self.subscriptions()
        for carried in message.transcripts:
            if carried.data is None or not (carried.is_final or _wanted(subscriptions, "utterance.partial")):
                continue
            try:
                record = self._utterance(machine, carried.data, sent_at, carried.engine)
            except (KeyError, IndexError, TypeError, ValueError):
                log.exception("cannot record a transcript entity")  # ids only; never the text
                continue
            if carried.source_text is not None:
                record = _as_translation(record, carried.source_text, carried.source_language)
            if self.redact is not None:
                record = self.redact(record)
            event = "utterance.final" if carried.is_final else "utterance.partial"
            deliveries = plan(subscriptions, event, utterance_event(record, self.organization_id,
                              is_final=carried.is_final), now=sent_at)  # fmt: skip
            if not carried.is_final:
                self.sink.deliveries(deliveries)  # partials are delivered, not stored
                continue
            self.transcripts += 1
            self.sink.utterance(record, deliveries)

    def heard(self, machine: SessionMachine, track: Track, hypothesis: Hypothesis) -> None:
        """A recognizer's result (before the outbox, so a phrase on a partial is reported at once):
        each rule that matches it for the first time in its utterance makes a ``phrase.detected``."""
        rules = self.phrase_rules()
        if not rules or not self._recording(machine):
            return
        if rules is not self._rules:
            self._rules = rules
            self._detector.replace(rules)
        channels = self._channels(machine)
        role = channels[track.channel] if 0 <= track.channel < len(channels) else None
        language = hypothesis.language or track.language
        found = self._detector.detect(
            (track, hypothesis.utterance), hypothesis, role=role, language=track.language, to_stream=track.to_stream
        )
        for match in found:
            text = match.text
            if self.redact is not None and self.redact_text is not None:
                text = self.redact_text(text, language)
            self.phrase(machine, {
                "channel": track.channel, "role": role, "ruleId": match.rule_id, "ruleName": match.rule_name,
                "text": text, "offset": round(match.offset, 3), "duration": round(match.duration, 3),
                "isFinal": match.is_final,
            })  # fmt: skip

    def phrase(self, machine: SessionMachine, data: Mapping[str, Any]) -> None:
        """A phrase rule matched (``data``: channel, role, rule, the matched text, its offset):
        ``phrase.detected`` to the subscriptions that want it."""
        if not self._recording(machine):
            return
        assert machine.conversation_id is not None
        body = {"conversationId": machine.conversation_id, "sessionId": self.session_id,
                "organizationId": self.organization_id, **data}  # fmt: skip
        self.sink.deliveries(plan(self.subscriptions(), "phrase.detected", body, now=self.clock()))

    # ------------------------------------------------------------------ records

    def _channels(self, machine: SessionMachine) -> Sequence[str]:
        if machine.settings is not None:
            return machine.settings.channels
        return machine.media.channels if machine.media is not None else ()

    def _utterance(
        self, machine: SessionMachine, data: Mapping[str, Any], sent_at: datetime, engine: str
    ) -> UtteranceRecord:
        assert machine.conversation_id is not None
        alternative = data["alternatives"][0]
        interpretation = alternative["interpretations"][0]
        channel = int(data["channelId"])
        channels = self._channels(machine)
        languages = alternative.get("languages") or [None]
        words = tuple(
            WordRecord(
                value=str(token["value"]),
                offset=_seconds(token["offset"]),
                duration=_seconds(token["duration"]),
                confidence=float(token["confidence"]),
            )
            for token in interpretation.get("tokens", ())
        )
        return UtteranceRecord(
            session_id=self.session_id,
            conversation_id=machine.conversation_id,
            utterance_id=str(data["id"]),
            channel=channel,
            role=channels[channel] if 0 <= channel < len(channels) else str(channel),
            offset=_seconds(data["offset"]),
            duration=_seconds(data["duration"]),
            text=str(interpretation["transcript"]),
            confidence=float(alternative["confidence"]),
            language=languages[0],
            sent_at=sent_at,
            words=words,
            engine=engine,
        )

    def _session(
        self,
        machine: SessionMachine,
        transcribed: float,
        ended: SessionReport | None = None,
        then: Callable[[], None] | None = None,
        event: str | None = None,
    ) -> None:
        assert machine.conversation_id is not None and self.started_at is not None
        media = machine.media
        settings = machine.settings
        now = self.clock()
        record = SessionRecord(
            session_id=self.session_id,
            conversation_id=machine.conversation_id,
            organization_id=self.organization_id,
            correlation_id=self.correlation_id,
            started_at=self.started_at,
            participant=dict(machine.participant),
            channels=tuple(self._channels(machine)),
            media_format=media.format if media is not None else None,
            language=settings.target_language or settings.language if settings is not None else None,
            engine=self.engine or (settings.engine if settings is not None else None),
            replica=self.replica,
            transcribing=machine.transcribing and ended is None,
            control_version=machine.control_version,
            audio_seconds=round(machine.counters.audio_seconds, 3),
            transcribed_seconds=round(transcribed, 3),
            transcripts=self.transcripts,
            ended_at=now if ended is not None else None,
            outcome=ended.outcome.value if ended is not None else None,
            disconnect_reason=ended.disconnect_reason if ended is not None else None,
            updated_at=now,
        )
        deliveries = plan(self.subscriptions(), event, conversation_event(record), now=now) if event else []
        self.sink.session(record, then, deliveries)


def _as_translation(record: UtteranceRecord, source_text: str, source_language: str | None) -> UtteranceRecord:
    """Stored as said, with what Genesys got as the translation (its words are spread estimates
    over the translated text, so they are not kept as the utterance's words)."""
    from dataclasses import replace

    return replace(
        record,
        text=source_text,
        language=source_language,
        words=(),
        translation=TranslationRecord(text=record.text, language=record.language or ""),
    )


def _wanted(subscriptions: Sequence[Subscription], event: str) -> bool:
    return any(event in subscription.events for subscription in subscriptions)
