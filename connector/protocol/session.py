"""The AudioHook session state machine, sans-IO.

:class:`SessionMachine` takes what the client sent (text or binary frames, already received)
and returns *effects* (:mod:`connector.protocol.effects`): commands for the runtime (start,
flush, restart or stop transcription; back off after a 429). It holds no socket, no clock and
no task, so every protocol rule is unit-tested directly and the trio layer
(:mod:`connector.nursery`) stays thin.

What the server sends goes into the machine's :class:`~connector.protocol.outbox.Outbox`:
control messages and ``closed`` from the handlers, transcripts through
:meth:`SessionMachine.transcript`; the runtime's writer takes each message out with
:meth:`SessionMachine.next_message` when it may go (``seq`` is stamped then, because control
messages overtake queued events and the client requires ``seq`` to grow by one on the wire).

Effects also say what happened, so the runtime keeps no flags of its own: :class:`Opened`,
:class:`Closing`, :class:`AwaitClose`, audio counted (:class:`Audio`) and discarded
(:class:`Discarded`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..audio.codecs import decode_channels
from ..audio.timeline import StreamClock
from ..vocabulary import SAMPLE_RATE, Hypothesis
from .call import CallSettings, SessionPolicy, language_choice
from .control import ControlRequest, controlled_settings
from .durations import parse_duration
from .effects import (
    Audio,
    AwaitClose,
    Backoff,
    Closing,
    Discarded,
    Effect,
    FlushTranscription,
    Opened,
    StartTranscription,
    StopTranscription,
)
from .media import MediaFormat, select_media
from .messages import (
    NIL_UUID,
    ClientMessage,
    ProtocolViolation,
    ServerMessage,
    parse_client_message,
)
from .outbox import Outbox, Outgoing, Track
from .state import SessionCounters, State

__all__ = ["SessionCounters", "SessionMachine", "State"]

log = logging.getLogger(__name__)


@dataclass
class SessionMachine:
    """One AudioHook session, from ``open`` to ``closed``."""

    session_id: str
    organization_id: str | None
    policy: SessionPolicy
    auth_failure: str | None = None
    """Set when authentication failed and the server uses the in-session strategy."""
    default_language: str | None = None
    """Used when ``open`` carries no language (server default from the environment)."""

    state: State = State.AWAITING_OPEN
    media: MediaFormat | None = None
    settings: CallSettings | None = None
    is_probe: bool = False
    conversation_id: str | None = None
    disconnect_sent: bool = False
    disconnect_reason: str | None = None
    transcribing: bool = False
    ever_transcribed: bool = False
    paused_for_language: bool = False
    clock: StreamClock = field(default_factory=StreamClock)
    counters: SessionCounters = field(default_factory=SessionCounters)
    last_client_seq: int = 0
    transcription_allowed: bool = True
    """Whether audio may be transcribed now: ``False`` from the start with
    ``CONNECTOR_TRANSCRIBE=on-start``, then as the control API says (:meth:`control`)."""
    control_version: int = 0
    """The last control request applied (versions only grow)."""
    participant: dict[str, Any] = field(default_factory=dict)
    outbox: Outbox = None  # type: ignore[assignment]  # set in __post_init__ unless given
    """Where everything the server sends waits to go (the runtime passes one with its limits)."""

    def __post_init__(self) -> None:
        if self.outbox is None:
            self.outbox = Outbox(self.session_id)

    # ----------------------------------------------------------------- sending

    @property
    def server_seq(self) -> int:
        """``seq`` of the last message handed to the writer."""
        return self.outbox.seq

    def next_message(self, now: float) -> Outgoing | float | None:
        """The writer's question: a message to write now, the time to ask again, or ``None``
        (nothing queued). The session is ``CLOSED`` once ``closed`` is handed out: events queued
        before it (finals flushed at ``close``) are still accepted until then."""
        outgoing = self.outbox.next(now, self.last_client_seq)
        if isinstance(outgoing, Outgoing) and outgoing.type == "closed":
            self.state = State.CLOSED
        return outgoing

    def transcript(self, track: Track, hypothesis: Hypothesis, heard_at: float | None = None) -> list[Effect]:
        """A recognizer's result, into the outbox; a backlog the client's 429s made too long
        ends the call (its ``close`` flushes every final, so nothing is lost)."""
        if self.outbox.transcript(track, hypothesis, heard_at) and self.outbox.overflowing:
            waiting = self.outbox.max_queued
            return self.disconnect("error", f"Rate limited for too long: more than {waiting} transcripts waiting")
        return []

    def _send(self, message_type: str, parameters: dict[str, Any], clientseq: int | None = None) -> None:
        self.outbox.control(ServerMessage(message_type, parameters, clientseq=clientseq))

    def disconnect(self, reason: str, info: str) -> list[Effect]:
        """Ask the client to end the session (once); transcription stops, finals still flow."""
        if self.disconnect_sent or self.state is State.CLOSED:
            return []
        self.disconnect_sent = True
        self.disconnect_reason = reason
        effects: list[Effect] = []
        if self.transcribing:
            self.transcribing = False
            effects.append(StopTranscription(then_closed=False))
        self._send("disconnect", {"reason": reason, "info": info})
        effects.append(AwaitClose())
        return effects

    def transcription_stopped(self) -> list[Effect]:
        """The runtime reports that recognizers finished after a :class:`StopTranscription`."""
        if self.state is State.CLOSING:
            self.outbox.closed()  # after every final queued so far
        return []

    def engine_failed(self, info: str) -> list[Effect]:
        return self.disconnect("error", info)

    def control(self, request: ControlRequest) -> list[Effect]:
        """The control API's start or stop (each version once, in order). A stop ends the current
        recognizers (their finals still go); a start begins new ones where the stream is now, with
        the request's language, engine and options if it gave any (a change restarts them)."""
        if request.version <= self.control_version:
            return []
        self.control_version = request.version
        self.transcription_allowed = request.start
        effects: list[Effect] = []
        if not request.start or self.settings is None or self.disconnect_sent or self.state is State.CLOSING:
            if self.transcribing and not request.start:
                self.transcribing = False
                effects.append(StopTranscription(then_closed=False))
            return effects
        settings = controlled_settings(self.policy, self.settings, request)
        if isinstance(settings, str):
            log.warning("control request not applied", extra={"info": settings})
            settings = self.settings
        if self.transcribing and settings != self.settings:
            self.transcribing = False
            effects.append(StopTranscription(then_closed=False))
        self.settings = settings
        if self.state is State.ACTIVE and not self.transcribing and not self.paused_for_language:
            effects.append(self._start_transcription(settings))
        return effects

    # --------------------------------------------------------------- receiving

    def receive_text(self, text: str) -> list[Effect]:
        if self.state is State.CLOSED:
            return []
        if self.state is State.AWAITING_OPEN:
            effects = self._receive_text(text)
            return effects if self.state is State.AWAITING_OPEN else [Opened(), *effects]
        return self._receive_text(text)

    def _receive_text(self, text: str) -> list[Effect]:
        try:
            message = parse_client_message(text)
            self._check_envelope(message.id, message.seq, message.serverseq)
        except ProtocolViolation as violation:
            self._count_seq(violation)
            return self._violation(violation.info)
        self.last_client_seq = message.seq  # counted even if refused below (see _count_seq)
        if self.state is State.AWAITING_OPEN and message.type not in ("open", "close"):
            return self._violation(f"Expected 'open', received '{message.type[:40]}'")
        if message.type != "open" and self.state is not State.AWAITING_OPEN:
            self.clock.resync(message.position)
        handler = _HANDLERS.get(message.type)
        if handler is None:
            self.counters.unknown_messages += 1
            log.info("ignoring unknown message type", extra={"message_type": message.type[:40]})
            return []
        return handler(self, message)

    def receive_binary(self, data: bytes) -> list[Effect]:
        if self.state is State.CLOSED or self.disconnect_sent:
            return []
        if self.state is State.PAUSED:
            # In flight before the client paused, or a client that ignores its own pause.
            self.counters.ignored_audio_frames += 1
            return []
        if self.state is not State.ACTIVE or self.media is None:
            return self._violation(f"Received audio in state {self.state.value}")
        if len(data) % self.media.bytes_per_frame:
            return self._violation(
                f"Audio frame length {len(data)} is not a multiple of {self.media.bytes_per_frame}"
            )
        channels = decode_channels(data, self.media.format, len(self.media.channels))
        samples = len(channels[0])
        start = self.clock.samples
        self.clock.advance(samples)
        self.counters.audio_frames += 1
        seconds = samples / SAMPLE_RATE
        self.counters.audio_seconds += seconds
        if not self.transcribing or samples == 0:
            return [Audio(seconds)]
        return [Audio(seconds, channels, start)]

    # ---------------------------------------------------------------- checks

    def _check_envelope(self, session_id: str, seq: int, serverseq: int) -> None:
        if session_id.lower() != self.session_id.lower():
            raise ProtocolViolation("Session identifier mismatch")
        if seq != self.last_client_seq + 1:
            raise ProtocolViolation(f"Invalid seq value {seq} (expected {self.last_client_seq + 1})")
        if serverseq > self.server_seq:
            raise ProtocolViolation(f"Invalid serverseq {serverseq} (server has sent {self.server_seq})")

    def _count_seq(self, violation: ProtocolViolation) -> None:
        """A refused message with a good envelope still takes its ``seq``: the client's ``close``
        that answers our ``disconnect`` then follows it, and gets ``closed``."""
        if violation.envelope is None:
            return
        try:
            self._check_envelope(*violation.envelope)
        except ProtocolViolation:
            return
        self.last_client_seq = violation.envelope[1]

    def _violation(self, info: str) -> list[Effect]:
        log.warning("protocol violation", extra={"info": info})
        if self.state is State.CLOSING:
            return []
        return self.disconnect("error", info)

    # ------------------------------------------------------------- handlers

    def _on_open(self, message: ClientMessage) -> list[Effect]:
        if self.state is not State.AWAITING_OPEN:
            return self._violation("Unexpected 'open' (session already open)")
        params = message.parameters
        self.conversation_id = str(params["conversationId"])
        participant = params.get("participant") or {}
        self.participant = dict(participant) if isinstance(participant, dict) else {}
        self.is_probe = self.conversation_id == NIL_UUID and participant.get("id") in (NIL_UUID, None)
        self.clock.resync(message.position, tolerance=0.0)

        if self.auth_failure is not None:
            return self._refuse_open("unauthorized", self.auth_failure)
        if (
            self.organization_id is not None
            and str(params["organizationId"]).lower() != self.organization_id.lower()
        ):
            return self._refuse_open(
                "unauthorized", "Organization id does not match the Audiohook-Organization-Id header"
            )

        custom = params.get("customConfig") or {}
        engine = custom.get("transcriptionVendor")
        if engine is not None and not isinstance(engine, str):
            return self._refuse_open("error", "customConfig.transcriptionVendor must be a string")
        language = params.get("language") or self.default_language
        self.media = select_media(params["media"])
        opened: dict[str, Any] = {"media": [dict(self.media.offer)] if self.media else []}
        if params.get("supportedLanguages") is True:
            opened["supportedLanguages"] = list(self.policy.supported_languages(engine))

        if self.is_probe:
            self.state = State.ACTIVE
            opened["startPaused"] = False
            self._send("opened", opened)
            return []

        target = language if isinstance(language, str) else ""
        spoken, language_ok = language_choice(self.policy, engine, target, custom)
        if self.media is not None:
            problem = self.policy.check_call(engine, spoken, custom)
            if problem is not None:
                return self._refuse_open("error", problem)
            self.settings = CallSettings(
                engine=engine, language=spoken, options=custom, channels=self.media.channels, target_language=target
            )
        start_paused = self.media is not None and not language_ok
        opened["startPaused"] = start_paused
        self._send("opened", opened)
        effects: list[Effect] = []
        if start_paused:
            self.state = State.PAUSED
            self.paused_for_language = True
        else:
            self.state = State.ACTIVE
            if self.settings is not None and self.transcription_allowed:
                effects.append(self._start_transcription(self.settings))
        return effects

    def _refuse_open(self, reason: str, info: str) -> list[Effect]:
        """Refuse the call with ``disconnect`` instead of ``opened``, as the reference server does.

        The client answers with ``close`` (accepted in any state) and we reply ``closed``.
        """
        self.state = State.ACTIVE
        self.media = None
        return self.disconnect(reason, info)

    def _on_ping(self, message: ClientMessage) -> list[Effect]:
        self._send("pong", {}, clientseq=message.seq)
        return []

    def _on_update(self, message: ClientMessage) -> list[Effect]:
        language = message.parameters.get("language")
        effects: list[Effect] = []
        if self.settings is None or not isinstance(language, str) or self.state is State.CLOSING:
            self._send("updated", {})
            return []
        if language == self.settings.target_language and not self.paused_for_language:
            if self.transcribing:
                effects.append(FlushTranscription())
            self._send("updated", {})
            return effects
        spoken, supported = language_choice(self.policy, self.settings.engine, language, self.settings.options)
        if self.transcribing:
            self.transcribing = False
            effects.append(StopTranscription(then_closed=False))
        if not supported:
            self._send("updated", {})
            if self.state is State.ACTIVE:
                self.paused_for_language = True
                self._send("pause", {})
            return effects
        problem = self.policy.check_call(self.settings.engine, spoken, self.settings.options)
        if problem is not None:
            self._send("updated", {})
            return [*effects, *self.disconnect("error", problem)]
        self.settings = CallSettings(
            engine=self.settings.engine,
            language=spoken,
            options=self.settings.options,
            channels=self.settings.channels,
            target_language=language,
        )
        self._send("updated", {})
        if self.paused_for_language:
            self.paused_for_language = False
            self._send("resume", {})
            # Transcription starts when the client confirms with ``resumed``.
            return effects
        if self.state is State.ACTIVE and self.transcription_allowed:
            effects.append(self._start_transcription(self.settings))
        return effects

    def _on_paused(self, message: ClientMessage) -> list[Effect]:
        if self.state is not State.ACTIVE:
            return []  # duplicate ``paused`` (the reference client sends two) or irrelevant
        self.state = State.PAUSED
        return [FlushTranscription()] if self.transcribing else []

    def _on_resumed(self, message: ClientMessage) -> list[Effect]:
        effects = self._gap(message)
        if self.state is not State.PAUSED:
            return effects
        if self.paused_for_language:
            # The client resumed on its own while we wait for a language: ask again.
            self._send("pause", {})
            return effects
        self.state = State.ACTIVE
        allowed = self.transcription_allowed and not self.disconnect_sent
        if not self.transcribing and self.settings is not None and allowed:
            effects.append(self._start_transcription(self.settings))
        return effects

    def _on_discarded(self, message: ClientMessage) -> list[Effect]:
        return self._gap(message)

    def _gap(self, message: ClientMessage) -> list[Effect]:
        """Apply a reported gap as far as the message's own ``position`` confirms it.

        Clients that really skip audio report a ``position`` that already includes the gap
        (the reference tone source does); a client that reports a gap but keeps sending the
        audio (the reference suite's ``discarding``) keeps its position, and so do we.
        """
        start = parse_duration(message.parameters["start"])
        reported = parse_duration(message.parameters["discarded"])
        gap = min(reported, max(0.0, message.position - start))
        if gap <= 0:
            return []
        self.counters.discarded_seconds += gap
        self.clock.discard(start, gap)
        return [Discarded(gap)]

    def _on_error(self, message: ClientMessage) -> list[Effect]:
        self.counters.client_errors += 1
        code = message.parameters["code"]
        log.warning("client reported an error", extra={"code": code})
        if code == 429:
            retry = message.parameters.get("retryAfter")
            seconds = parse_duration(retry) if retry is not None else 1.0
            return [Backoff(seconds)]
        return []

    def _start_transcription(self, settings: CallSettings) -> StartTranscription:
        self.transcribing = self.ever_transcribed = True
        return StartTranscription(settings)

    def _on_close(self, message: ClientMessage) -> list[Effect]:
        if self.state is State.CLOSING:
            return []
        self.state = State.CLOSING
        if self.ever_transcribed:
            # Recognizers stopped earlier (``disconnect``, ``update``) may still be finishing: the
            # runtime reports when none is left, and ``closed`` follows their finals.
            self.transcribing = False
            return [Closing(), StopTranscription(then_closed=True)]
        self.outbox.closed()
        return [Closing()]



_HANDLERS: dict[str, Callable[[SessionMachine, ClientMessage], list[Effect]]] = {
    "open": SessionMachine._on_open,
    "ping": SessionMachine._on_ping,
    "update": SessionMachine._on_update,
    "paused": SessionMachine._on_paused,
    "resumed": SessionMachine._on_resumed,
    "discarded": SessionMachine._on_discarded,
    "error": SessionMachine._on_error,
    "close": SessionMachine._on_close,
}
