"""A lean AudioHook client for driving a thousand-plus calls from one core.

The simulator (:mod:`connector.simulator`) is the strict, Genesys-like client: it validates
every server message and keeps a full log of each call, which costs about as much CPU per
call as the server spends. One core of it cannot drive the server past a few hundred calls,
so the benchmark would measure the client. This client makes the server do the same work
(signed upgrade, ``open``, real-time stereo PCMU frames of the configured size, pings,
``paused``/``resumed``, ``discarded``, ``update``, ``close``) at a fraction of the cost:

* frames are built and masked once per frame size (with a real random masking key, so the
  server unmasks as usual) -- a 1 kHz tone repeats every 8 samples, so every frame is equal;
* one scheduler task sends every call's frames and pings from a heap of deadlines, with a
  non-blocking ``send`` straight on the socket (a per-call task only when the socket is
  full), instead of one task wake-up per frame;
* messages are built by the simulator's :class:`~connector.simulator.builder.MessageBuilder`;
  server messages are checked only for what the benchmark reports: ``seq`` order,
  ``opened``, ``pong`` ``clientseq``, ``closed``, ``disconnect``.

Use the simulator for protocol correctness and this for capacity (``bench.load --driver light``).
"""

from __future__ import annotations

import array
import heapq
import itertools
import json
import os
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

import trio

from bench.light_socket import FrameBank, Rejected, client_frame, connect, parse_frame
from connector.simulator import CallConfig, CallResult, DiscardAt, PauseAt, ProtocolError, UpdateAt
from connector.simulator.builder import MessageBuilder, encode
from connector.vocabulary import SAMPLE_RATE

__all__ = ["FrameBank", "LightDriver", "client_frame"]

RATE = SAMPLE_RATE


@dataclass
class LightDriver:
    """Runs calls; keeps live totals the benchmark reads during the run.

    Call :meth:`run` from tasks of a nursery in which :meth:`schedule` is running.
    """

    bank: FrameBank = field(default_factory=FrameBank)
    sent_seconds: float = 0.0
    lateness: array.array[float] = field(default_factory=lambda: array.array("f"))

    def __post_init__(self) -> None:
        self._heap: list[tuple[float, int, _Call]] = []
        self._order = itertools.count()
        self._wakeup = trio.Event()

    def _at(self, when: float, call: _Call) -> None:
        heapq.heappush(self._heap, (when, next(self._order), call))
        if self._heap[0][2] is call:
            self._wakeup.set()

    async def schedule(self) -> None:
        """The one task that sends every call's frames and pings on time (runs until cancelled)."""
        while True:
            if not self._heap:
                self._wakeup = trio.Event()
                await self._wakeup.wait()
                continue
            when = self._heap[0][0]
            if when > trio.current_time():
                self._wakeup = trio.Event()
                with trio.move_on_at(when):
                    await self._wakeup.wait()
                continue
            now = trio.current_time()
            while self._heap and self._heap[0][0] <= now:
                due, _, call = heapq.heappop(self._heap)
                call.tick(due, now)

    async def run(self, config: CallConfig, nursery: trio.Nursery) -> CallResult:
        """One call, start to end; ``nursery`` hosts its helper tasks (receiver, slow sends)."""
        result = CallResult(session_id=config.session_id, conversation_id=config.conversation_id)
        result.started_at = trio.current_time()
        try:
            with trio.fail_after(config.connect_timeout):
                sock, rest = await connect(config)
        except (OSError, trio.TooSlowError, Rejected) as exc:
            result.error = f"connection failed: {exc!r}"
            return result
        result.connected = True
        call = _Call(self, config, result, sock, rest)
        try:
            await call.run(nursery)
        finally:
            trio.lowlevel.notify_closing(sock)  # wakes this call's receiver and sender with ClosedResourceError
            sock.close()
        result.ended_at = trio.current_time()
        return result


class _Call:
    def __init__(
        self, driver: LightDriver, config: CallConfig, result: CallResult, sock: socket.socket, rest: bytes
    ) -> None:
        self.driver, self.cfg, self.r, self.sock = driver, config, result, sock
        self.inbox = bytearray(rest)
        self.outbox = bytearray()
        self.flushing = False
        self.broken = False
        self.out = MessageBuilder(config.session_id)
        self.end = round((config.duration or 10.0) * RATE)
        self.size = config.frame_ms * RATE // 1000
        self.injections = sorted(config.injections, key=lambda i: i.at)
        self.t0 = 0.0
        self.next_ping = 0.0
        self.pause: tuple[int, int] | None = None  # (start, samples skipped) while paused
        self.pending_ping: tuple[int, float] | None = None
        self.opened = trio.Event()
        self.streamed = trio.Event()
        self.closed = trio.Event()
        self.eof = trio.Event()
        self.nursery: trio.Nursery | None = None

    # ---------------------------------------------------------------- sending

    def write(self, data: bytes) -> None:
        """Send now if the socket takes it; otherwise queue it behind what is waiting."""
        if self.broken:
            return
        if not self.outbox:
            try:
                sent = self.sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.broken = True
                return
            if sent == len(data):
                return
            data = data[sent:]
        self.outbox += data
        if not self.flushing and self.nursery is not None:
            self.flushing = True
            self.nursery.start_soon(self._flush)

    async def _flush(self) -> None:
        try:
            while self.outbox and not self.broken:
                try:
                    await trio.lowlevel.wait_writable(self.sock)
                except trio.ClosedResourceError:
                    return
                try:
                    sent = self.sock.send(self.outbox)
                except BlockingIOError:
                    continue
                except OSError:
                    self.broken = True
                    return
                del self.outbox[:sent]
        finally:
            self.flushing = False

    def send(self, message: dict[str, Any]) -> int:
        """Send a message built by ``self.out``; returns its ``seq``."""
        self.write(client_frame(0x1, encode(message).encode()))
        return int(message["seq"])

    @property
    def pos(self) -> int:
        """Stream position in samples (the builder's, so every message reports it)."""
        return self.out.pos

    @pos.setter
    def pos(self, value: int) -> None:
        self.out.pos = value

    # ------------------------------------------------------- scheduler ticks

    def tick(self, due: float, now: float) -> None:
        """A deadline of this call passed: send what is due and book the next deadline."""
        if self.streamed.is_set():
            return
        if self.r.disconnect_reason is not None or self.broken:
            self.streamed.set()
            return
        if self.cfg.ping_interval is not None and now >= self.next_ping:
            if self.pending_ping is not None:
                self.r.timeouts.append("pong")
                self.streamed.set()
                return
            self.pending_ping = (self.send(self.out.ping()), now)
            self.next_ping += self.cfg.ping_interval
        if self.pause is not None:
            start, skipped = self.pause
            if now < self._resume_due():
                self.driver._at(min(self._resume_due(), self.next_ping), self)
                return
            self.pos += skipped  # a live call's audio moved on while paused
            self.send(self.out.resumed(start, skipped))
            self.pause = None
        if now >= self._frame_due():
            self._send_frame(now)
        if self.pos >= self.end and self.pause is None:
            self.streamed.set()
            return
        self.driver._at(min(self._resume_due() if self.pause else self._frame_due(), self.next_ping), self)

    def _resume_due(self) -> float:
        assert self.pause is not None
        return self.t0 + (self.pause[0] + self.pause[1]) / RATE

    def _frame_due(self) -> float:
        return self.t0 + min(self.pos + self.size, self._limit()) / RATE

    def _limit(self) -> int:
        return min(self.end, round(self.injections[0].at * RATE)) if self.injections else self.end

    def _send_frame(self, now: float) -> None:
        stop = min(self.pos + self.size, self._limit())
        if stop > self.pos:
            due = self.t0 + stop / RATE
            self.write(self.driver.bank.frame(stop - self.pos))
            self.driver.lateness.append(now - due)
            self.driver.sent_seconds += (stop - self.pos) / RATE
            self.pos = stop
        while self.injections and round(self.injections[0].at * RATE) <= self.pos:
            self._inject(self.injections.pop(0))

    def _inject(self, inj: PauseAt | DiscardAt | UpdateAt | Any) -> None:
        if isinstance(inj, UpdateAt):
            self.send(self.out.update(inj.language))
        elif isinstance(inj, DiscardAt):
            skipped = min(round(inj.duration * RATE), self.end - self.pos)
            start, self.pos = self.pos, self.pos + skipped  # the position reported includes the gap
            self.send(self.out.discarded(start, skipped))
            self.t0 -= skipped / RATE  # discarded audio takes no wall time
        elif isinstance(inj, PauseAt):
            self.send(self.out.paused())
            self.pause = (self.pos, min(round(inj.duration * RATE), self.end - self.pos))

    # ------------------------------------------------------------ the call

    async def run(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        nursery.start_soon(self._receive_loop)
        self.r.open_sent_at = trio.current_time()
        self.send(self.out.open(self.cfg.open_parameters()))
        with trio.move_on_after(self.cfg.open_timeout):
            await self.opened.wait()
        if not self.opened.is_set():
            self.r.timeouts.append("open")
        elif self.r.disconnect_reason is None:
            now = trio.current_time()
            self.t0, self.next_ping = now, now + self.cfg.initial_ping_delay
            self.driver._at(min(self._frame_due(), self.next_ping), self)
            await self.streamed.wait()
        self.r.close_reason = "end"
        self.send(self.out.close("end"))
        sent = trio.current_time()
        with trio.move_on_after(self.cfg.close_timeout):
            await self.closed.wait()  # set by 'closed', or when the connection ends
        if self.r.closed:
            self.r.close_latency = trio.current_time() - sent
        elif not self.eof.is_set():
            self.r.timeouts.append("close")
        self.write(client_frame(0x8, struct.pack("!H", 1000)))
        with trio.move_on_after(2):
            await self.eof.wait()  # the server's close frame, or EOF
        self.r.final_position = self.pos / RATE
        if self.broken and self.r.error is None:
            self.r.error = "connection lost"

    # ------------------------------------------------------------ receiving

    async def _receive_loop(self) -> None:
        try:
            while (payload := await self._next_text()) is not None:
                self._on_message(json.loads(payload), trio.current_time())
        except (OSError, trio.ClosedResourceError):
            self.broken = True
        finally:
            self.eof.set()
            self.opened.set()
            self.closed.set()

    def _on_message(self, message: dict[str, Any], now: float) -> None:
        if message.get("seq") != self.out.serverseq + 1:
            problem = f"seq {message.get('seq')} after {self.out.serverseq}"
            self.r.protocol_errors.append(ProtocolError(400, problem, True, now))
        self.out.serverseq = int(message.get("seq", self.out.serverseq))
        kind = message.get("type")
        if kind == "opened":
            self.r.opened = True
            self.r.opened_latency = now - (self.r.open_sent_at or now)
            self.opened.set()
        elif kind == "pong":
            if self.pending_ping is not None and message.get("clientseq") == self.pending_ping[0]:
                self.r.pong_latencies.append(now - self.pending_ping[1])
                self.pending_ping = None
            else:
                self.r.protocol_errors.append(ProtocolError(400, "pong clientseq mismatch", True, now))
        elif kind == "closed":
            self.r.closed = True
            self.closed.set()
        elif kind == "disconnect":
            self.r.disconnect_reason = message.get("parameters", {}).get("reason")
            self.opened.set()
        elif kind == "event":
            self.r.events_received += 1
        elif kind == "updated":
            self.r.updated_received += 1

    async def _next_text(self) -> bytes | None:
        """The next text message (``None`` at a close frame or EOF)."""
        while True:
            frame = parse_frame(self.inbox)
            if frame is not None:
                opcode, payload = frame
                if opcode == 0x8:
                    return None
                if opcode == 0x1:
                    return payload
                if opcode == 0x9:  # a server's keep-alive ping (RFC 6455 5.5.2): answer or be dropped
                    self.write(client_frame(0xA, payload, os.urandom(4)))
                continue  # binary, pong: nothing to do
            await trio.lowlevel.wait_readable(self.sock)
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                continue
            if not data:
                return None
            self.inbox += data
