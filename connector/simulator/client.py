"""One simulated Genesys AudioHook call: the client side of the protocol, on trio.

It behaves like the Genesys client and the reference client (purecloudlabs' ``clientsessionimpl``):
same upgrade headers and signature, ``open`` → ``opened`` within 5 s, pings 1 s after
``opened`` and every 5 s, pause/resume/discard accounting, ``close`` → ``closed`` within 10 s,
and the same strict checks of every server message, answered with the same ``error`` codes.
What the reference client would reject is recorded in :attr:`CallResult.protocol_errors`.

Tasks of one call: the main task (open, stream, close), a receiver that validates and
dispatches server messages, and a pinger. Every client message is built *and* sent under one
lock, so ``seq`` order is wire order and ``position`` always counts the audio already sent.
Sends are shielded (with a timeout), because a cancelled half-written frame corrupts the
stream; cancellation then lands between frames.

Audio pacing uses absolute deadlines from one anchor (:class:`FrameClock`): a late wake-up
shortens the next wait instead of shifting every later frame.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import trio
from trio_websocket import (
    CloseReason,
    ConnectionClosed,
    ConnectionRejected,
    ConnectionTimeout,
    DisconnectionTimeout,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)

from connector.protocol.durations import format_duration, parse_duration
from connector.protocol.messages import NIL_UUID

from .checks import (
    LANGUAGE_CODE,
    TranscriptError,
    check_parameters,
    check_server_envelope,
    media_matches,
    parse_transcript,
)
from .config import CallConfig, DiscardAt, ErrorAt, Injection, PauseAt, UpdateAt, upgrade_headers
from .result import CallResult, ProtocolError, Transcript
from .source import SAMPLE_RATE, AudioSource

__all__ = ["DEFAULT_SILENCE", "MAX_TEXT_MESSAGE", "FrameClock", "next_frame_end", "run_call"]

log = logging.getLogger(__name__)

MAX_TEXT_MESSAGE = 65535  # the reference client answers longer text with error 413
DEFAULT_SILENCE = 10.0  # seconds streamed when run_call gets no audio and no duration
_POSITION_SLACK = 0.25  # s a transcript may end past the audio sent before we warn

State = Literal["opening", "open", "closing", "closed"]
TranscriptCallback = Callable[[Transcript], None]


@dataclass
class FrameClock:
    """Send deadlines for frames, from one anchor so that jitter never accumulates.

    The frame that ends at stream sample ``p`` is due when its last sample would have been
    captured on a live call: ``anchor_time + (p - anchor_pos) / (8000 x speed)``. A pause
    re-anchors at the resume; a discard moves the anchor by the skipped samples so the cadence
    continues unchanged. ``speed == 0`` means no pacing at all.
    """

    speed: float
    anchor_time: float = 0.0
    anchor_pos: int = 0

    def deadline(self, end_pos: int) -> float:
        if self.speed == 0:
            return -math.inf
        return self.anchor_time + (end_pos - self.anchor_pos) / (SAMPLE_RATE * self.speed)

    def restart(self, now: float, pos: int) -> None:
        self.anchor_time = now
        self.anchor_pos = pos

    def skip(self, samples: int) -> None:
        self.anchor_pos += samples


def next_frame_end(pos: int, frame_samples: int, end: int, next_injection: int | None) -> int:
    """End sample of the next frame: a full frame, cut short at the end or at an injection point."""
    stop = min(pos + frame_samples, end)
    if next_injection is not None and pos < next_injection < stop:
        stop = next_injection
    return stop


def _fine_duration(seconds: float) -> str:
    """A Duration with nanosecond resolution, for ``rtt`` (the reference client sends ns)."""
    text = f"{max(0.0, seconds):.9f}".rstrip("0").rstrip(".")
    return f"PT{text}S"


def _samples_to_duration(samples: int) -> str:
    return format_duration(samples / SAMPLE_RATE)


class _Call:
    """The state of one connected call. Created by :func:`run_call`; not public."""

    def __init__(
        self,
        config: CallConfig,
        audio: AudioSource,
        result: CallResult,
        ws: WebSocketConnection,
        on_transcript: TranscriptCallback | None,
    ) -> None:
        self.cfg = config
        self.audio = audio
        self.r = result
        self.ws = ws
        self.on_transcript = on_transcript
        self.offers = config.media_offers
        self.supported_requested = config.probe or bool(config.supported_languages)
        self.end = audio.samples
        if config.duration is not None:
            self.end = min(self.end, round(config.duration * SAMPLE_RATE))
        self.eff_speed = config.speed if config.speed > 0 else 1.0
        ordered = sorted(enumerate(config.injections), key=lambda item: (item[1].at, item[0]))
        self.injections: list[tuple[int, Injection]] = [(round(i.at * SAMPLE_RATE), i) for _, i in ordered]
        self.next_injection = 0

        self.state: State = "opening"
        self.seq = 0
        self.serverseq = 0
        self.last_clientseq = 0
        self.channels: tuple[str, ...] = ()
        self.fmt = "PCMU"
        self.pos = 0  # stream position in samples per channel; equal to the source position
        self.epoch = 0  # bumped on every discontinuity (pause, resume, discard)
        self.clock = FrameClock(config.speed)
        self.lock = trio.Lock()

        self.opened_event = trio.Event()
        self.opened_at = 0.0
        self.closed_event = trio.Event()
        self.closed_at = 0.0
        self.close_reason: str | None = None
        self.close_sent = False
        self.error_closing = False
        self.active_scope = trio.CancelScope()  # the open wait and the streaming
        self.ping_scope = trio.CancelScope()
        self.nursery: trio.Nursery | None = None

        self.server_paused = False
        self.client_paused = False
        self.pause_start_pos = 0
        self.pause_start_time = 0.0
        self.server_paused_during = False
        self.pause_event = trio.Event()

        self.pending_ping: tuple[int, float] | None = None
        self.pong_event = trio.Event()
        self.last_rtt: float | None = None

        self.handlers: dict[str, Callable[[dict[str, Any], float], Awaitable[None]]] = {
            "opened": self._on_opened,
            "pong": self._on_pong,
            "pause": self._on_pause,
            "resume": self._on_resume,
            "disconnect": self._on_disconnect,
            "closed": self._on_closed,
            "event": self._on_event,
            "updated": self._on_updated,
            "reconnect": self._on_reconnect,
        }

    # ---- sending -------------------------------------------------------------------------

    def _build(self, msg_type: str, parameters: dict[str, Any]) -> tuple[int, str]:
        self.seq += 1
        message = {
            "version": "2",
            "type": msg_type,
            "id": self.cfg.session_id,
            "seq": self.seq,
            "serverseq": self.serverseq,
            "position": _samples_to_duration(self.pos),
            "parameters": parameters,
        }
        return self.seq, json.dumps(message, separators=(",", ":"))

    async def _transmit(self, data: str | bytes) -> bool:
        """Send one WebSocket message, never cut in half by a cancellation."""
        try:
            with trio.CancelScope(shield=True), trio.fail_after(self.cfg.send_timeout):
                await self.ws.send_message(data)
        except ConnectionClosed as exc:
            self._connection_lost(exc.reason)
            return False
        except trio.TooSlowError:
            self.r.error = self.r.error or f"send blocked for more than {self.cfg.send_timeout} s"
            self._abort()
            return False
        return True

    async def _send_locked(self, msg_type: str, parameters: dict[str, Any]) -> int:
        seq, text = self._build(msg_type, parameters)
        log.debug("session %s: send %s seq=%d", self.cfg.session_id, msg_type, seq)
        await self._transmit(text)
        return seq

    async def _send(self, msg_type: str, parameters: dict[str, Any]) -> int:
        async with self.lock:
            return await self._send_locked(msg_type, parameters)

    # ---- errors and closing --------------------------------------------------------------

    def _abort(self) -> None:
        if self.nursery is not None:
            self.nursery.cancel_scope.cancel()

    def _connection_lost(self, reason: CloseReason | None) -> None:
        self.r.ws_close_code = reason.code if reason is not None else None
        if not self.closed_event.is_set() and self.r.error is None:
            self.r.error = f"WebSocket closed in state {self.state} (code {self.r.ws_close_code})"
        self._abort()

    def _request_close(self, reason: str) -> None:
        """Stop opening/streaming; the main task then sends ``close`` with ``reason``."""
        if self.state in ("opening", "open") and self.close_reason is None:
            self.close_reason = reason
            self.state = "closing"
            self.active_scope.cancel()

    async def _violation(self, code: int | None, message: str, *, fatal: bool) -> None:
        """Record a server protocol error; answer it like the reference client when asked to."""
        self.r.protocol_errors.append(ProtocolError(code, message, fatal, trio.current_time()))
        log.warning("session %s: server protocol error: %s", self.cfg.session_id, message)
        if not self.cfg.react_to_errors or code is None or self.state == "closed":
            return
        if fatal:
            if self.error_closing:
                return
            self.error_closing = True
        await self._send("error", {"code": code, "message": message})
        if fatal:
            self._request_close("error")

    # ---- main flow -----------------------------------------------------------------------

    async def run(self, stop: trio.Event | None) -> None:
        async with trio.open_nursery() as nursery:
            self.nursery = nursery
            nursery.start_soon(self._receive_loop)
            if stop is not None:
                nursery.start_soon(self._watch_stop, stop)
            await self._main(nursery)
            nursery.cancel_scope.cancel()

    async def _watch_stop(self, stop: trio.Event) -> None:
        await stop.wait()
        self._request_close("end")

    async def _main(self, nursery: trio.Nursery) -> None:
        with self.active_scope:
            await self._send("open", self.cfg.open_parameters())
            self.r.open_sent_at = trio.current_time()
            with trio.move_on_after(self.cfg.open_timeout):
                await self.opened_event.wait()
            if not self.opened_event.is_set():
                self.r.timeouts.append("open")
                await self._violation(408, "Open transaction timeout", fatal=True)
            elif self.cfg.probe:
                self._request_close("end")
            elif self.state == "open":
                if self.cfg.ping_interval is not None:
                    nursery.start_soon(self._ping_loop, self.cfg.ping_interval)
                await self._stream()
        self.ping_scope.cancel()
        await self._close(self.close_reason or ("error" if "open" in self.r.timeouts else "end"))

    async def _close(self, reason: str) -> None:
        if reason == "end" and not self.cfg.probe and self.next_injection < len(self.injections):
            self._warn(f"{len(self.injections) - self.next_injection} injection(s) beyond the end of the stream")
        self.state = "closing"
        self.close_reason = reason
        self.r.close_reason = reason
        async with self.lock:
            await self._send_locked("close", {"reason": reason})
            self.close_sent = True
            sent_at = trio.current_time()
        with trio.move_on_after(self.cfg.close_timeout):
            await self.closed_event.wait()
        if self.closed_event.is_set():
            self.r.close_latency = self.closed_at - sent_at
        else:
            self.r.timeouts.append("close")
            await self._violation(408, "Close transaction timeout", fatal=False)
        self.state = "closed"
        self.r.final_position = self.pos / SAMPLE_RATE

    # ---- streaming -----------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self.server_paused or self.client_paused

    def _pause_changed(self) -> None:
        self.epoch += 1
        self.pause_event.set()
        self.pause_event = trio.Event()

    async def _enter_pause(self, *, by_server: bool, now: float) -> None:
        """Lock held. Start (or repeat) a pause and tell the server with ``paused``."""
        if not self.paused:
            self.pause_start_pos = self.pos
            self.pause_start_time = now
            self.server_paused_during = by_server
        elif by_server:
            self.server_paused_during = True
        if by_server:
            self.server_paused = True
        else:
            self.client_paused = True
        await self._send_locked("paused", {})
        self._pause_changed()

    async def _leave_pause(self, *, resume_time: float, nominal: int | None) -> None:
        """Lock held, both pause flags clear. Send ``resumed`` with what the pause discarded.

        ``advance`` mode (a live call): the paused stretch of audio is lost, so the position
        jumps by the pause length: the injected duration, or the time the server kept us paused.
        ``freeze`` mode (the reference WAV source): nothing is lost, ``discarded`` is PT0S.
        """
        discarded = 0
        if self.cfg.pause_mode == "advance":
            if nominal is not None and not self.server_paused_during:
                discarded = nominal
            else:
                discarded = round((resume_time - self.pause_start_time) * self.eff_speed * SAMPLE_RATE)
                discarded = max(discarded, nominal or 0)
            discarded = max(0, min(discarded, self.end - self.pos))
        start = self.pause_start_pos
        self.pos += discarded
        await self._send_locked(
            "resumed", {"start": _samples_to_duration(start), "discarded": _samples_to_duration(discarded)}
        )
        self.clock.restart(resume_time, self.pos)
        self._pause_changed()

    async def _wait_unpaused(self) -> bool:
        """Wait out a pause; ``False`` if the audio ran out meanwhile (advance mode)."""
        while self.paused:
            event = self.pause_event
            deadline = math.inf
            if self.cfg.pause_mode == "advance" and self.server_paused:
                remaining = (self.end - self.pause_start_pos) / (SAMPLE_RATE * self.eff_speed)
                deadline = self.pause_start_time + remaining
            with trio.move_on_at(deadline):
                await event.wait()
                continue
            async with self.lock:
                if self.paused:  # a live call would have ended during the pause
                    self.pos = self.end
                    return False
        return True

    def _due_injection(self) -> Injection | None:
        if self.next_injection < len(self.injections) and self.injections[self.next_injection][0] <= self.pos:
            self.next_injection += 1
            return self.injections[self.next_injection - 1][1]
        return None

    def _next_injection_pos(self) -> int | None:
        if self.next_injection < len(self.injections):
            return self.injections[self.next_injection][0]
        return None

    async def _inject(self, inj: Injection) -> None:
        if isinstance(inj, UpdateAt):
            await self._send("update", {"language": inj.language})
        elif isinstance(inj, ErrorAt):
            params: dict[str, Any] = {"code": inj.code, "message": inj.message}
            if inj.retry_after is not None:
                params["retryAfter"] = format_duration(inj.retry_after)
            await self._send("error", params)
        elif isinstance(inj, DiscardAt):
            async with self.lock:
                skipped = max(0, min(round(inj.duration * SAMPLE_RATE), self.end - self.pos))
                start = self.pos
                self.pos += skipped
                self.clock.skip(skipped)
                self.epoch += 1
                await self._send_locked(
                    "discarded",
                    {"start": _samples_to_duration(start), "discarded": _samples_to_duration(skipped)},
                )
        elif isinstance(inj, PauseAt):
            await self._client_pause(inj.duration)

    async def _client_pause(self, duration: float) -> None:
        # Start on the stream schedule, not on "now", so a pause adds no drift.
        started = trio.current_time() if self.cfg.speed == 0 else self.clock.deadline(self.pos)
        async with self.lock:
            await self._enter_pause(by_server=False, now=started)
        resume_at = started + (duration / self.cfg.speed if self.cfg.speed > 0 else 0.0)
        await trio.sleep_until(resume_at)
        async with self.lock:
            self.client_paused = False
            if self.server_paused:
                return  # the server's `resume` will end the pause
            await self._leave_pause(resume_time=resume_at, nominal=round(duration * SAMPLE_RATE))

    async def _stream(self) -> None:
        frame = self.cfg.frame_ms * SAMPLE_RATE // 1000
        self.clock.restart(trio.current_time(), self.pos)
        while True:
            if self.paused:
                if not await self._wait_unpaused():
                    return
                continue
            injection = self._due_injection()
            if injection is not None:
                await self._inject(injection)
                continue
            if self.pos >= self.end:
                return
            stop = next_frame_end(self.pos, frame, self.end, self._next_injection_pos())
            epoch = self.epoch
            await trio.sleep_until(self.clock.deadline(stop))
            async with self.lock:
                if self.paused or self.epoch != epoch:
                    continue  # paused or resumed while waiting: that frame was never captured
                if self.channels:
                    data = self.audio.frame(self.pos, stop, self.channels, self.fmt)
                    self.r.frame_starts.append(self.pos)
                    self.r.frame_ends.append(stop)
                    self.r.frame_times.append(trio.current_time())
                    await self._transmit(data)
                self.pos = stop

    # ---- pings ---------------------------------------------------------------------------

    async def _ping(self) -> trio.Event:
        async with self.lock:
            params = {"rtt": _fine_duration(self.last_rtt)} if self.last_rtt is not None else {}
            seq, text = self._build("ping", params)
            self.pending_ping = (seq, trio.current_time())
            self.pong_event = event = trio.Event()
            await self._transmit(text)
        return event

    async def _ping_loop(self, interval: float) -> None:
        """First ping 1 s after ``opened``, a second one as soon as it is answered, then every
        ``interval``; a ping still unanswered when the next is due is a pong timeout (408)."""
        with self.ping_scope:
            first_at = self.opened_at + self.cfg.initial_ping_delay
            await trio.sleep_until(first_at)
            event = await self._ping()
            next_at = first_at + interval
            with trio.move_on_at(next_at):
                await event.wait()
            if event.is_set():
                await self._ping()
            while True:
                await trio.sleep_until(next_at)
                if self.pending_ping is not None:
                    self.r.timeouts.append("pong")
                    await self._violation(408, "Timeout waiting for pong", fatal=True)
                    return
                await self._ping()
                next_at += interval

    # ---- receiving -----------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        while True:
            try:
                message = await self.ws.get_message()
            except ConnectionClosed as exc:
                self._connection_lost(exc.reason)
                return
            now = trio.current_time()
            if isinstance(message, bytes):
                await self._violation(415, "Unexpected binary message", fatal=True)
            else:
                await self._on_text(message, now)

    async def _on_text(self, text: str, now: float) -> None:
        if len(text) > MAX_TEXT_MESSAGE:
            await self._violation(413, "Message too large", fatal=True)
            return
        try:
            msg = json.loads(text)
        except ValueError:
            await self._violation(400, "Message not well-formed JSON", fatal=True)
            return
        if problem := check_server_envelope(msg):
            await self._violation(400, f"Message not an AudioHook server message: {problem}", fatal=True)
            return
        if self.cfg.keep_messages:
            self.r.server_messages.append(msg)
        msg_type, seq, clientseq = msg["type"], msg["seq"], msg["clientseq"]
        log.debug("session %s: received %s seq=%d", self.cfg.session_id, msg_type, seq)
        if msg["id"].lower() != self.cfg.session_id.lower():
            await self._violation(400, "Session identifier mismatch", fatal=True)
        if seq != self.serverseq + 1:
            await self._violation(
                500,
                f"Protocol error: current serverseq={self.serverseq} and incoming message has seq={seq}",
                fatal=True,
            )
        self.serverseq = seq  # re-sync so one gap is reported once, not on every later message
        if clientseq > self.seq:
            await self._violation(None, f"clientseq {clientseq} is ahead of the client's seq {self.seq}", fatal=False)
        elif clientseq < self.last_clientseq:
            await self._violation(
                None, f"clientseq went back from {self.last_clientseq} to {clientseq}", fatal=False
            )
        self.last_clientseq = max(self.last_clientseq, clientseq)
        if problem := check_parameters(msg_type, msg["parameters"]):
            await self._violation(500, f"Invalid '{msg_type}' message: {problem}", fatal=True)
            return
        await self.handlers[msg_type](msg, now)

    async def _unexpected(self, msg_type: str) -> None:
        await self._violation(409, f"Unexpected '{msg_type}' message in state {self.state}", fatal=True)

    def _warn(self, text: str) -> None:
        if text not in self.r.warnings:
            self.r.warnings.append(text)

    async def _on_opened(self, msg: dict[str, Any], now: float) -> None:
        if self.state != "opening":
            await self._unexpected("opened")
            return
        try:
            await self._accept_opened(msg["parameters"], now)
        finally:
            self.opened_event.set()

    async def _accept_opened(self, params: dict[str, Any], now: float) -> None:
        self.state = "open"
        self.opened_at = now
        self.r.opened = True
        self.r.opened_params = params
        if self.r.open_sent_at is not None:
            self.r.opened_latency = now - self.r.open_sent_at
        media = params["media"]
        if len(media) > 1:
            await self._violation(400, "More than one media selected", fatal=True)
            return
        if media:
            if not any(media_matches(media[0], offer) for offer in self.offers):
                await self._violation(400, "Selected media not one of the offered", fatal=True)
                return
            self.r.selected_media = media[0]
            self.channels = tuple(media[0]["channels"])
            self.fmt = media[0]["format"]
        languages = params.get("supportedLanguages")
        if languages is None and self.supported_requested:
            await self._violation(None, "supportedLanguages requested in open but not returned", fatal=False)
        elif languages is not None:
            if not self.supported_requested:
                self._warn("opened carries supportedLanguages that open did not ask for")
            bad = [code for code in languages if not LANGUAGE_CODE.match(code)]
            if bad:
                await self._violation(None, f"supportedLanguages has invalid codes {bad[:5]}", fatal=False)
        if not self.cfg.probe:
            async with self.lock:
                if "discardTo" in params:
                    target = min(round(parse_duration(params["discardTo"]) * SAMPLE_RATE), self.end)
                    if target > self.pos:
                        start, self.pos = self.pos, target
                        await self._send_locked(
                            "discarded",
                            {"start": _samples_to_duration(start), "discarded": _samples_to_duration(target - start)},
                        )
                if params.get("startPaused") is True:
                    await self._enter_pause(by_server=True, now=now)

    async def _on_pong(self, msg: dict[str, Any], now: float) -> None:
        pending = self.pending_ping
        if pending is None:
            await self._violation(409, "Unexpected 'pong' (no outstanding 'ping')", fatal=False)
        elif msg["clientseq"] != pending[0]:
            await self._violation(
                400, "The \"clientseq\" of the 'pong' message must match \"seq\" of the 'ping' message.", fatal=False
            )
        else:
            self.last_rtt = now - pending[1]
            self.r.pong_latencies.append(self.last_rtt)
            self.pending_ping = None
            self.pong_event.set()

    async def _on_pause(self, msg: dict[str, Any], now: float) -> None:
        if self.state == "open":
            async with self.lock:
                await self._enter_pause(by_server=True, now=now)
        elif self.state != "closing":
            await self._unexpected("pause")

    async def _on_resume(self, msg: dict[str, Any], now: float) -> None:
        if self.state == "closing":
            return
        if self.state != "open":
            await self._unexpected("resume")
            return
        async with self.lock:
            was_paused = self.server_paused
            self.server_paused = False
            if self.client_paused:
                await self._send_locked("paused", {})  # our own pause is still on
            elif was_paused:
                await self._leave_pause(resume_time=now, nominal=None)
            else:
                await self._send_locked("resumed", {"start": _samples_to_duration(self.pos), "discarded": "PT0S"})

    async def _on_disconnect(self, msg: dict[str, Any], now: float) -> None:
        params = msg["parameters"]
        if self.r.disconnect_reason is None:
            self.r.disconnect_reason = params["reason"]
            self.r.disconnect_info = params.get("info")
        self._request_close("disconnect")

    async def _on_closed(self, msg: dict[str, Any], now: float) -> None:
        if not self.close_sent or self.closed_event.is_set():
            await self._unexpected("closed")
            return
        self.closed_at = now
        self.r.closed = True
        self.closed_event.set()

    async def _on_event(self, msg: dict[str, Any], now: float) -> None:
        if self.state == "opening":
            await self._violation(None, "event received before opened", fatal=False)
        self.r.events_received += 1
        position = self.pos / SAMPLE_RATE
        for entity in msg["parameters"]["entities"]:
            if entity["type"] != "transcript":
                continue
            try:
                transcript, warnings = parse_transcript(
                    entity["data"],
                    channels=self.channels,
                    received_at=now,
                    stream_position=position,
                    event_seq=msg["seq"],
                )
            except TranscriptError as exc:
                await self._violation(None, f"invalid transcript entity: {exc}", fatal=False)
                continue
            for warning in warnings:
                self._warn(warning)
            if transcript.end is not None and transcript.end > position + _POSITION_SLACK:
                self._warn("transcript ends after the audio sent so far")
            self.r.transcripts.append(transcript)
            if self.on_transcript is not None:
                self.on_transcript(transcript)

    async def _on_updated(self, msg: dict[str, Any], now: float) -> None:
        self.r.updated_received += 1

    async def _on_reconnect(self, msg: dict[str, Any], now: float) -> None:
        self._warn("server sent reconnect (ignored, as Genesys does)")


async def run_call(
    config: CallConfig,
    audio: AudioSource | None = None,
    *,
    stop: trio.Event | None = None,
    on_transcript: TranscriptCallback | None = None,
) -> CallResult:
    """Place one call and return what it observed. Never raises for server misbehaviour.

    ``audio`` defaults to silence lasting ``config.duration`` (or 10 s). Setting ``stop`` ends
    the stream early with ``close {reason: "end"}``. ``on_transcript`` is called for each
    transcript as it arrives (keep it quick: it runs in the receiving task).
    """
    if audio is None:
        audio = AudioSource.silence(config.duration if config.duration is not None else DEFAULT_SILENCE)
    result = CallResult(
        session_id=config.session_id,
        conversation_id=NIL_UUID if config.probe else config.conversation_id,
        started_at=trio.current_time(),
        started_at_unix=time.time(),
    )
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in upgrade_headers(config)]
    try:
        async with open_websocket_url(
            config.url,
            config.ssl_context,
            extra_headers=headers,
            connect_timeout=config.connect_timeout,
            disconnect_timeout=config.close_timeout,
        ) as ws:
            result.connected = True
            await _Call(config, audio, result, ws, on_transcript).run(stop)
    except ConnectionRejected as exc:
        result.rejected_status = exc.status_code
        result.error = f"upgrade rejected with HTTP {exc.status_code}"
    except ConnectionTimeout:
        result.error = f"no WebSocket connection within {config.connect_timeout} s"
    except DisconnectionTimeout:
        result.warnings.append("the server did not finish the WebSocket closing handshake")
    except HandshakeError as exc:
        result.error = f"connection failed: {exc.__cause__ or exc!r}"
    except ConnectionClosed as exc:
        result.error = result.error or f"WebSocket closed: {exc.reason}"
    result.ended_at = trio.current_time()
    return result
