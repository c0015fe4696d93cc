"""The simulated Genesys client's protocol state: a sans-IO machine, no sockets, no clock inside.

:class:`ClientMachine` is one call's client side. The driver (:mod:`.client`, on trio) tells it
what happened, with the time (``now``) when it matters, and gets back what to send:

* it builds every client message with the call's :class:`~.builder.MessageBuilder` (``seq``,
  ``serverseq``, ``position``), including the answers the protocol calls for (``paused`` on
  ``pause``, ``resumed``/``discarded`` with what a pause or ``discardTo`` skipped, ``error``);
* it hands every server frame to the referee (:mod:`.referee`), which judges it the way the
  reference client does, and records each violation in the :class:`~.result.CallResult`,
  answering it with ``error`` (and closing on a fatal one) when the configuration asks;
* it keeps the pause accounting: who paused, since when, and how much audio a resume skips.

What the driver must do in reply comes back as a :class:`Reaction`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from connector.protocol.durations import parse_duration
from connector.vocabulary import SAMPLE_RATE

from .builder import MessageBuilder
from .config import CallConfig
from .referee import (
    LANGUAGE_CODE_RE,
    ClientView,
    ReferenceViolation,
    TranscriptError,
    check_parameters,
    check_sequence,
    decode_server_text,
    parse_transcript,
    react,
)
from .result import CallResult, ProtocolError, Transcript
from .source import AudioSource
from .timeline import StreamTimeline

__all__ = ["POSITION_SLACK", "ClientMachine", "Reaction"]

log = logging.getLogger(__name__)

POSITION_SLACK = 0.25  # s a transcript may end past the audio sent before we warn


@dataclass
class Reaction:
    """What the driver does after a step of the machine: send ``sends`` in order, then signal."""

    sends: list[dict[str, Any]] = field(default_factory=list)
    opened: bool = False
    """``opened`` arrived (in the right state): stop waiting for it."""
    closed: bool = False
    pong: bool = False
    pause_changed: bool = False
    stop: bool = False
    """A close was requested (disconnect, fatal violation): stop opening or streaming, then close."""
    transcripts: list[Transcript] = field(default_factory=list)


class ClientMachine:
    """One call's protocol state; see the module docstring. ``result`` is filled in as it goes."""

    def __init__(self, config: CallConfig, audio: AudioSource, result: CallResult) -> None:
        self.cfg = config
        self.r = result
        self.view = ClientView(config.session_id, config.media_offers, state="PREPARING", keep=False)
        self.out = MessageBuilder(config.session_id, counters=self.view)
        self.supported_requested = config.probe or bool(config.supported_languages)
        self.stream = StreamTimeline(config, audio, result, self.out)
        self.opened_at = 0.0
        self.closed_at = 0.0
        self.close_reason: str | None = None
        self.close_sent = False
        self.error_closing = False
        self.last_clientseq = 0
        self.ping_sent_at = 0.0
        self.last_rtt: float | None = None

    @property
    def state(self) -> str:
        return self.view.state

    # ---- opening and closing -----------------------------------------------------------------

    def open(self, now: float) -> dict[str, Any]:
        self.view.state = "OPENING"
        self.r.open_sent_at = now
        return self.out.open(self.cfg.open_parameters())

    def open_timed_out(self, now: float) -> Reaction:
        self.r.timeouts.append("open")
        return self.violation(408, "Open transaction timeout", fatal=True, now=now)

    def request_close(self, reason: str) -> bool:
        """Stop opening or streaming (``True`` the first time); the driver then closes with ``reason``."""
        if self.state in ("OPENING", "OPEN") and self.close_reason is None:
            self.close_reason = reason
            self.view.state = "CLOSING-ERROR" if reason == "error" else "CLOSING"
            return True
        return False

    def close(self, reason: str) -> dict[str, Any]:
        if reason == "end" and not self.cfg.probe and self.stream.injections_left:
            self.warn(f"{self.stream.injections_left} injection(s) beyond the end of the stream")
        if not self.view.is_closing:
            self.view.state = "CLOSING-ERROR" if reason == "error" else "CLOSING"
        self.close_reason = reason
        self.r.close_reason = reason
        self.close_sent = True
        return self.out.close(reason)

    def close_timed_out(self, now: float) -> Reaction:
        self.r.timeouts.append("close")
        return self.violation(408, "Close transaction timeout", fatal=False, now=now)

    def finish(self, close_sent_at: float) -> None:
        """The close transaction is over (``closed`` or its timeout)."""
        if self.r.closed:
            self.r.close_latency = self.closed_at - close_sent_at
        self.view.state = "CLOSED"
        self.r.final_position = self.stream.pos / SAMPLE_RATE

    def connection_lost(self, code: int | None) -> None:
        self.r.ws_close_code = code
        if not self.r.closed and self.r.error is None:
            self.r.error = f"WebSocket closed in state {self.state.lower()} (code {code})"

    # ---- violations and warnings ---------------------------------------------------------------

    def violation(
        self, code: int | None, message: str, *, fatal: bool, now: float, into: Reaction | None = None
    ) -> Reaction:
        """Record a server protocol error; answer it like the reference client when asked to."""
        out = into if into is not None else Reaction()
        self.r.protocol_errors.append(ProtocolError(code, message, fatal, now))
        log.warning("session %s: server protocol error: %s", self.cfg.session_id, message)
        if not self.cfg.react_to_errors or code is None or self.state == "CLOSED":
            return out
        if fatal:
            if self.error_closing:
                return out
            self.error_closing = True
        out.sends.append(self.out.error(code, message))
        if fatal and self.request_close("error"):
            out.stop = True
        return out

    def warn(self, text: str) -> None:
        if text not in self.r.warnings:
            self.r.warnings.append(text)

    def ping(self, now: float) -> dict[str, Any]:
        message = self.out.ping(self.last_rtt)
        self.view.pending_ping = message["seq"]
        self.ping_sent_at = now
        return message

    def pong_timed_out(self, now: float) -> Reaction:
        self.r.timeouts.append("pong")
        return self.violation(408, "Timeout waiting for pong", fatal=True, now=now)

    # ---- server messages -----------------------------------------------------------------------

    def receive(self, raw: str | bytes, now: float) -> Reaction:
        """One server frame: judged by the referee, then acted on."""
        out = Reaction()
        try:
            msg = decode_server_text(raw)
        except ReferenceViolation as exc:
            return self.violation(exc.code, exc.reason, fatal=exc.fatal, now=now, into=out)
        if self.cfg.keep_messages:
            self.r.server_messages.append(msg)
        msg_type, clientseq = msg["type"], msg["clientseq"]
        log.debug("session %s: received %s seq=%s", self.cfg.session_id, msg_type, msg["seq"])
        if msg["id"] != self.cfg.session_id:  # the jest suite's commonValidations: the very same id
            self.violation(400, "Session identifier mismatch", fatal=True, now=now, into=out)
        try:
            check_sequence(msg, self.out.serverseq)
        except ReferenceViolation as exc:
            self.violation(exc.code, exc.reason, fatal=exc.fatal, now=now, into=out)
        self.out.serverseq = int(msg["seq"])  # re-sync, so one gap is reported once
        if problem := self._clientseq_problem(clientseq):
            self.violation(None, problem, fatal=False, now=now, into=out)
        self.last_clientseq = max(self.last_clientseq, int(clientseq))
        if problem := check_parameters(msg_type, msg["parameters"]):
            return self.violation(500, f"Invalid '{msg_type}' message: {problem}", fatal=True, now=now, into=out)
        state = self.state
        try:
            react(msg, self.view)
        except ReferenceViolation as exc:
            self.violation(exc.code, exc.reason, fatal=exc.fatal, now=now, into=out)
            if msg_type == "opened" and state == "OPENING":  # opened, but with a media we cannot use
                self._opened(msg["parameters"], now)
                out.opened = True
            return out
        getattr(self, f"_on_{msg_type}")(msg, now, out)
        return out

    def _clientseq_problem(self, clientseq: int) -> str | None:
        """Not a reference rule: ``clientseq`` names a message we sent, and never goes back."""
        if clientseq > self.out.seq:
            return f"clientseq {clientseq} is ahead of the client's seq {self.out.seq}"
        if clientseq < self.last_clientseq:
            return f"clientseq went back from {self.last_clientseq} to {clientseq}"
        return None

    def _opened(self, params: dict[str, Any], now: float) -> None:
        self.opened_at = now
        self.r.opened = True
        self.r.opened_params = params
        if self.r.open_sent_at is not None:
            self.r.opened_latency = now - self.r.open_sent_at

    def _on_opened(self, msg: dict[str, Any], now: float, out: Reaction) -> None:
        params = msg["parameters"]
        self._opened(params, now)
        out.opened = True
        if media := params["media"]:
            self.r.selected_media = media[0]
            self.stream.channels = tuple(media[0]["channels"])
            self.stream.fmt = media[0]["format"]
        languages = params.get("supportedLanguages")
        if languages is None and self.supported_requested:
            problem = "supportedLanguages requested in open but not returned"
            self.violation(None, problem, fatal=False, now=now, into=out)
        elif languages is not None:
            if not self.supported_requested:
                self.warn("opened carries supportedLanguages that open did not ask for")
            if bad := [code for code in languages if not LANGUAGE_CODE_RE.match(code)]:
                self.violation(None, f"supportedLanguages has invalid codes {bad[:5]}", fatal=False, now=now, into=out)
        if self.cfg.probe or self.state != "OPEN":
            return
        if "discardTo" in params and (discarded := self.stream.discard_to(parse_duration(params["discardTo"]))):
            out.sends.append(discarded)
        if params.get("startPaused") is True:
            out.sends.append(self.stream.enter_pause(by_server=True, now=now))
            out.pause_changed = True

    def _on_pong(self, msg: dict[str, Any], now: float, out: Reaction) -> None:
        self.last_rtt = now - self.ping_sent_at
        self.r.pong_latencies.append(self.last_rtt)
        out.pong = True

    def _on_pause(self, msg: dict[str, Any], now: float, out: Reaction) -> None:
        if self.state == "OPEN":  # (while closing, the referee lets it pass and we ignore it)
            out.sends.append(self.stream.enter_pause(by_server=True, now=now))
            out.pause_changed = True

    def _on_resume(self, msg: dict[str, Any], now: float, out: Reaction) -> None:
        if self.state != "OPEN":
            return
        stream = self.stream
        was_paused, stream.server_paused = stream.server_paused, False
        if stream.client_paused:
            out.sends.append(self.out.paused())  # our own pause is still on
        elif was_paused:
            out.sends.append(stream.leave_pause(resume_time=now, nominal=None))
            out.pause_changed = True
        else:
            out.sends.append(self.out.resumed(stream.pos, 0))

    def _on_disconnect(self, msg: dict[str, Any], now: float, out: Reaction) -> None:
        params = msg["parameters"]
        if self.r.disconnect_reason is None:
            self.r.disconnect_reason = params["reason"]
            self.r.disconnect_info = params.get("info")
        out.stop = self.request_close("disconnect") or out.stop

    def _on_closed(self, msg: dict[str, Any], now: float, out: Reaction) -> None:
        if not self.close_sent or self.r.closed:  # our close is not out yet, or was answered already
            self.violation(409, f"Unexpected 'closed' message in state {self.state}", fatal=True, now=now, into=out)
            return
        self.closed_at = now
        self.r.closed = True
        out.closed = True

    def _on_event(self, msg: dict[str, Any], now: float, out: Reaction) -> None:
        if self.state == "OPENING":
            self.violation(None, "event received before opened", fatal=False, now=now, into=out)
        self.r.events_received += 1
        position = self.stream.pos / SAMPLE_RATE
        for entity in msg["parameters"]["entities"]:
            if entity["type"] != "transcript":
                continue
            try:
                transcript, warnings = parse_transcript(
                    entity["data"],
                    channels=self.stream.channels,
                    received_at=now,
                    stream_position=position,
                    event_seq=msg["seq"],
                )
            except TranscriptError as exc:
                self.violation(None, f"invalid transcript entity: {exc}", fatal=False, now=now, into=out)
                continue
            for warning in warnings:
                self.warn(warning)
            if transcript.end is not None and transcript.end > position + POSITION_SLACK:
                self.warn("transcript ends after the audio sent so far")
            self.r.transcripts.append(transcript)
            out.transcripts.append(transcript)

    def _on_updated(self, msg: dict[str, Any], now: float, out: Reaction) -> None:
        self.r.updated_received += 1

    def _on_reconnect(self, msg: dict[str, Any], now: float, out: Reaction) -> None:
        self.warn("server sent reconnect (ignored, as Genesys does)")
