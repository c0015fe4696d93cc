"""One simulated Genesys AudioHook call: the trio driver over the sans-IO :class:`~.machine.ClientMachine`.

It behaves like the Genesys client and the reference client (purecloudlabs' ``clientsessionimpl``):
same upgrade headers and signature, ``open`` → ``opened`` within 5 s, pings 1 s after
``opened`` and every 5 s, pause/resume/discard accounting, ``close`` → ``closed`` within 10 s,
and the same strict checks of every server message (the referee), answered with the same
``error`` codes. What the reference client would reject is recorded in
:attr:`CallResult.protocol_errors`.

Tasks of one call: the main task (open, stream, close), a receiver that hands server messages
to the machine, and a pinger. The machine builds every client message; each is built *and* sent
under one lock, so ``seq`` order is wire order and ``position`` always counts the audio already
sent. Sends are shielded (with a timeout), because a cancelled half-written frame corrupts the
stream; cancellation then lands between frames.

Audio pacing uses absolute deadlines from one anchor (:class:`~.pacing.FrameClock`): a late
wake-up shortens the next wait instead of shifting every later frame.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

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

from connector.protocol.messages import NIL_UUID
from connector.vocabulary import SAMPLE_RATE

from .builder import encode
from .config import CallConfig, Injection, PauseAt, upgrade_headers
from .machine import ClientMachine, Reaction
from .pacing import FrameClock, next_frame_end
from .referee import MAX_TEXT
from .result import CallResult, Transcript
from .source import AudioSource

__all__ = ["DEFAULT_SILENCE", "MAX_TEXT_MESSAGE", "FrameClock", "next_frame_end", "run_call"]

log = logging.getLogger(__name__)

MAX_TEXT_MESSAGE = MAX_TEXT  # the reference client answers longer text with error 413
DEFAULT_SILENCE = 10.0  # seconds streamed when run_call gets no audio and no duration

TranscriptCallback = Callable[[Transcript], None]


class _Call:
    """One connected call: trio tasks, events and the socket around the machine. Not public."""

    def __init__(
        self,
        config: CallConfig,
        audio: AudioSource,
        result: CallResult,
        ws: WebSocketConnection,
        on_transcript: TranscriptCallback | None,
    ) -> None:
        self.cfg = config
        self.r = result
        self.ws = ws
        self.on_transcript = on_transcript
        self.m = ClientMachine(config, audio, result)
        self.stream = self.m.stream
        self.lock = trio.Lock()
        self.opened_event = trio.Event()
        self.closed_event = trio.Event()
        self.pause_event = trio.Event()
        self.pong_event = trio.Event()
        self.active_scope = trio.CancelScope()  # the open wait and the streaming
        self.ping_scope = trio.CancelScope()
        self.nursery: trio.Nursery | None = None

    # ---- sending -------------------------------------------------------------------------

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

    async def _send_locked(self, message: dict[str, Any] | None) -> None:
        if message is not None:
            log.debug("session %s: send %s seq=%d", self.cfg.session_id, message["type"], message["seq"])
            await self._transmit(encode(message))

    async def _send(self, build: Callable[[], dict[str, Any] | None]) -> None:
        """Build and send under the lock, so ``seq`` order is wire order."""
        async with self.lock:
            await self._send_locked(build())

    async def _apply(self, reaction: Reaction) -> None:
        """Lock held. Send what the machine answered, then signal the waiting tasks."""
        for message in reaction.sends:
            await self._send_locked(message)
        if reaction.pause_changed:
            self.pause_event.set()
            self.pause_event = trio.Event()
        if reaction.opened:
            self.opened_event.set()
        if reaction.closed:
            self.closed_event.set()
        if reaction.pong:
            self.pong_event.set()
        if reaction.stop:
            self.active_scope.cancel()
        if self.on_transcript is not None:
            for transcript in reaction.transcripts:
                self.on_transcript(transcript)

    async def _react(self, step: Callable[[], Reaction]) -> None:
        async with self.lock:
            await self._apply(step())

    # ---- errors and closing --------------------------------------------------------------

    def _abort(self) -> None:
        if self.nursery is not None:
            self.nursery.cancel_scope.cancel()

    def _connection_lost(self, reason: CloseReason | None) -> None:
        self.m.connection_lost(reason.code if reason is not None else None)
        self._abort()

    def _request_close(self, reason: str) -> None:
        """Stop opening/streaming; the main task then sends ``close`` with ``reason``."""
        if self.m.request_close(reason):
            self.active_scope.cancel()

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
            await self._send(lambda: self.m.open(trio.current_time()))
            with trio.move_on_after(self.cfg.open_timeout):
                await self.opened_event.wait()
            if not self.opened_event.is_set():
                await self._react(lambda: self.m.open_timed_out(trio.current_time()))
            elif self.cfg.probe:
                self._request_close("end")
            elif self.m.state == "OPEN":
                if self.cfg.ping_interval is not None:
                    nursery.start_soon(self._ping_loop, self.cfg.ping_interval)
                await self._stream()
        self.ping_scope.cancel()
        await self._close(self.m.close_reason or ("error" if "open" in self.r.timeouts else "end"))

    async def _close(self, reason: str) -> None:
        async with self.lock:
            await self._send_locked(self.m.close(reason))
            sent_at = trio.current_time()
        with trio.move_on_after(self.cfg.close_timeout):
            await self.closed_event.wait()
        if not self.closed_event.is_set():
            await self._react(lambda: self.m.close_timed_out(trio.current_time()))
        self.m.finish(sent_at)

    # ---- streaming -----------------------------------------------------------------------

    async def _wait_unpaused(self) -> bool:
        """Wait out a pause; ``False`` if the audio ran out meanwhile (advance mode)."""
        while self.stream.paused:
            event = self.pause_event
            deadline = self.stream.pause_deadline()
            with trio.move_on_at(math.inf if deadline is None else deadline):
                await event.wait()
                continue
            async with self.lock:
                if self.stream.paused:  # a live call would have ended during the pause
                    self.stream.pos = self.stream.end
                    return False
        return True

    async def _inject(self, inj: Injection) -> None:
        if isinstance(inj, PauseAt):
            await self._client_pause(inj.duration)
        else:
            await self._send(lambda: self.stream.inject(inj))

    async def _client_pause(self, duration: float) -> None:
        # Start on the stream schedule, not on "now", so a pause adds no drift.
        stream = self.stream
        started = trio.current_time() if self.cfg.speed == 0 else stream.clock.deadline(stream.pos)
        async with self.lock:
            await self._send_locked(stream.enter_pause(by_server=False, now=started))
            await self._apply(Reaction(pause_changed=True))
        resume_at = started + (duration / self.cfg.speed if self.cfg.speed > 0 else 0.0)
        await trio.sleep_until(resume_at)
        async with self.lock:
            resumed = stream.end_client_pause(resume_time=resume_at, nominal=round(duration * SAMPLE_RATE))
            if resumed is not None:
                await self._send_locked(resumed)
                await self._apply(Reaction(pause_changed=True))

    async def _stream(self) -> None:
        stream = self.stream
        frame = self.cfg.frame_ms * SAMPLE_RATE // 1000
        stream.clock.restart(trio.current_time(), stream.pos)
        while True:
            if stream.paused:
                if not await self._wait_unpaused():
                    return
                continue
            injection = stream.due_injection()
            if injection is not None:
                await self._inject(injection)
                continue
            if stream.pos >= stream.end:
                return
            stop = next_frame_end(stream.pos, frame, stream.end, stream.next_injection_pos())
            epoch = stream.epoch
            await trio.sleep_until(stream.clock.deadline(stop))
            async with self.lock:
                if stream.paused or stream.epoch != epoch:
                    continue  # paused or resumed while waiting: that frame was never captured
                data = stream.frame(stop, trio.current_time())
                if data is not None:
                    await self._transmit(data)

    # ---- pings ---------------------------------------------------------------------------

    async def _ping(self) -> trio.Event:
        async with self.lock:
            message = self.m.ping(trio.current_time())
            self.pong_event = event = trio.Event()
            await self._send_locked(message)
        return event

    async def _ping_loop(self, interval: float) -> None:
        """First ping 1 s after ``opened``, a second one as soon as it is answered, then every
        ``interval``; a ping still unanswered when the next is due is a pong timeout (408)."""
        with self.ping_scope:
            first_at = self.m.opened_at + self.cfg.initial_ping_delay
            await trio.sleep_until(first_at)
            event = await self._ping()
            next_at = first_at + interval
            with trio.move_on_at(next_at):
                await event.wait()
            if event.is_set():
                await self._ping()
            while True:
                await trio.sleep_until(next_at)
                if self.m.view.pending_ping is not None:
                    await self._react(lambda: self.m.pong_timed_out(trio.current_time()))
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
            async with self.lock:
                await self._apply(self.m.receive(message, now))


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
