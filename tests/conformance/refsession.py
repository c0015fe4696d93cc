"""The reference AudioHook client session, re-enacted on trio for conformance tests.

Why re-enact rather than run it: the reference client (Node.js) cannot be fetched here, and its
behaviour is small enough to mirror faithfully. This module follows
``app/audiohook/src/client/clientsessionimpl.ts``, driving a media source from
:mod:`tests.conformance.refmedia`:

* one ordered outbox, so messages leave in the order the client built them (as Node's
  single-threaded ``ws.send`` does), built by the simulator's
  :class:`~connector.simulator.builder.MessageBuilder` (``seq``/``serverseq``/``position``
  stamped at build time, positions with the reference's nanosecond resolution);
* every server frame goes through the referee's
  :func:`~connector.simulator.referee.check_server_message`, and a violation fails the test
  with the error code the reference client would have sent;
* its timers: open 5 s, close 10 s, first ping 1 s after ``opened``, a second ping as soon as
  the first pong arrives, then one every 5 s, and 408 if a ping is still unanswered when the
  next is due (5 s). :class:`Timing` compresses the media clock and the ping cadence together;
  the open, close and pong deadlines stay real, because they measure the server (see
  :attr:`Timing.pong_timeout` for how the pong's is measured);
* its reactions: ``pause``/``resume`` drive the media source, which sends ``paused`` /
  ``resumed``; ``disconnect`` starts a close with reason ``disconnect``.

The jest suite's helpers (``pinging``, ``pausing``...) and the waits the scenarios use are
:class:`tests.conformance.refclient.ReferenceClient`, built on :class:`ClientSession` here.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from connector.simulator.builder import MessageBuilder, encode, fine_duration
from connector.simulator.referee import ClientView, ReferenceViolation, check_server_message
from connector.testing.server import TEST_SECRET
from tests.conformance.refmedia import RATE, MediaSource
from tests.rawclient import connect

__all__ = ["NIL", "ClientSession", "Timing", "as_duration"]

NIL = "00000000-0000-0000-0000-000000000000"


as_duration = fine_duration
"""``StreamDuration.asDuration()``: plain decimal seconds, never an exponent."""


def _samples(seconds: float) -> int:
    return round(seconds * RATE)


@dataclass
class Timing:
    """The reference client's clocks; ``compressed(n)`` runs media and pings ``n`` times faster."""

    open_timeout: float = 5.0
    close_timeout: float = 10.0
    initial_ping_delay: float = 1.0
    ping_interval: float = 5.0
    frame_period: float = 0.2
    pong_timeout: float = 5.0
    """How long a ping may stay unanswered: the reference checks it when the next ping is due,
    5 s later, so the server has 5 s. It is measured from the moment our writer actually wrote
    the ping to the socket (not from when a timer asked for it), and it stays 5 s of real time
    when the cadence is compressed: it measures the server, and 1/20 of it (0.25 s) is a limit
    that a loaded machine breaks by descheduling this test process, not by anything the server
    does. A compressed cadence whose next ping falls due first waits for the pong up to this
    deadline instead of failing."""

    @classmethod
    def compressed(cls, factor: float) -> Timing:
        return cls(initial_ping_delay=1.0 / factor, ping_interval=5.0 / factor, frame_period=0.2 / factor)


# ------------------------------------------------------------------------------- the session


def _first_assertion(group: BaseExceptionGroup[BaseException]) -> AssertionError | None:
    for exc in group.exceptions:
        if isinstance(exc, AssertionError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first_assertion(exc)
            if found is not None:
                return found
    return None


class ClientSession:
    """One reference-client session against ``port``; start it with :meth:`start`."""

    def __init__(
        self,
        port: int,
        source: MediaSource,
        *,
        timing: Timing | None = None,
        organization_id: str | None = None,
        header_organization_id: str | None = None,
        conversation_id: str | None = None,
        participant: dict[str, str] | None = None,
        language: str | None = "en-US",
        custom_config: dict[str, Any] | None = None,
        supported_languages: bool | None = False,
        allow_server_close: bool = False,
    ) -> None:
        self.port = port
        self.source = source
        self.timing = timing or Timing()
        self.session_id = str(uuid.uuid4())
        self.organization_id = organization_id or str(uuid.uuid4())
        self.header_organization_id = header_organization_id or self.organization_id
        self.open_parameters: dict[str, Any] = {
            "organizationId": self.organization_id,
            "conversationId": conversation_id or str(uuid.uuid4()),
            "participant": participant
            or {"id": str(uuid.uuid4()), "ani": "+1-555-555-1234", "aniName": "John Doe", "dnis": "+1-800-555-6789"},
            "media": source.offered_media,
        }
        # JSON.stringify drops undefined members, so absent options are absent keys.
        for key, value in (
            ("customConfig", custom_config),
            ("language", language),
            ("supportedLanguages", supported_languages),
        ):
            if value is not None:
                self.open_parameters[key] = value
        self.allow_server_close = allow_server_close
        self.view = ClientView(self.session_id, source.offered_media)
        self.view.state = "PREPARING"
        self.out = MessageBuilder(self.session_id, counters=self.view, duration=fine_duration)
        self.sent: list[dict[str, Any]] = []
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        self.disconnect_msg: dict[str, Any] | None = None
        self.unexpected_close_state: str | None = None
        self.last_rtt: float | None = None
        self.written_at: dict[int, float] = {}
        """When the writer finished writing each text message, by its ``seq``."""
        self.source.emit = self._on_source
        self._outbox_send, self._outbox_receive = trio.open_memory_channel[tuple[str | bytes, int | None]](math.inf)
        self._opened = trio.Event()
        self._open_settled = trio.Event()
        self._received = trio.Event()
        self._pong = trio.Event()
        self.pongs = 0
        self._closed = trio.Event()
        self.disconnected = trio.Event()
        self._ping_scopes: list[trio.CancelScope] = []
        self._interval_started = False
        self._ping_wanted = False
        self._position_waiters: list[tuple[int, trio.Event]] = []
        self._ws: WebSocketConnection | None = None
        self._inner: trio.Nursery | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self, nursery: trio.Nursery) -> ClientSession:
        """Connect, send ``open`` and return once ``opened`` arrived (the suite's ``waitForClientState``)."""
        await nursery.start(self._serve)
        return self

    async def _serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with connect(
                self.port, session_id=self.session_id, secret=TEST_SECRET, organization_id=self.header_organization_id
            ) as raw:
                self._ws = raw.ws
                async with trio.open_nursery() as inner:
                    self._inner = inner
                    inner.start_soon(self._writer)
                    inner.start_soon(self._reader)
                    self.view.state = "OPENING"
                    self._send(self._builder().open(self.open_parameters))
                    with trio.move_on_after(self.timing.open_timeout):
                        await self._open_settled.wait()  # 'opened', or a close (after 'disconnect')
                    if not self._open_settled.is_set():
                        raise ReferenceViolation(408, "Open transaction timeout")
                    task_status.started()
                    await self.disconnected.wait()
                    inner.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            found = _first_assertion(group)
            if found is not None:
                raise found from group
            raise

    async def _writer(self) -> None:
        assert self._ws is not None
        async for item, seq in self._outbox_receive:
            try:
                await self._ws.send_message(item)
            except ConnectionClosed:
                return  # the reader reports how the connection ended
            if seq is not None:
                self.written_at[seq] = trio.current_time()

    async def _reader(self) -> None:
        assert self._ws is not None
        while True:
            try:
                raw = await self._ws.get_message()
            except ConnectionClosed:
                if self.view.state not in ("CLOSED", "DISCONNECTED"):
                    # onWsClose: "WebSocket closed unexpectedly in state ..."
                    self.unexpected_close_state = self.view.state
                    if not self.allow_server_close:
                        raise AssertionError(
                            f"server closed the WebSocket in state {self.view.state} before 'closed'"
                        ) from None
                self._cleanup()
                return
            msg = check_server_message(raw, self.view)
            self.arrivals.append((trio.current_time(), msg))
            self._received.set()
            self._received = trio.Event()
            await self._react(msg)
            if self.disconnected.is_set():
                return

    async def _react(self, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        if kind == "opened":
            self._start_streaming(msg["parameters"])
            self._opened.set()
            self._open_settled.set()
        elif kind == "pong":
            self.pongs += 1
            self._pong.set()
            self._pong = trio.Event()
            if self.view.state == "OPEN":
                now = trio.current_time()
                self.last_rtt = now - self.written_at.get(msg["clientseq"], now)
                if self.view.initial_ping_timer or self._ping_wanted:
                    # The first ping's answer: ping again at once for an early RTT figure
                    # (or send the ping a helper asked for meanwhile).
                    self.view.initial_ping_timer = False
                    self._ping_wanted = False
                    self.send_ping()
        elif kind == "pause" and self.view.state == "OPEN":
            self.source.pause()
        elif kind == "resume" and self.view.state == "OPEN":
            self.source.resume()
        elif kind == "disconnect":
            self.disconnect_msg = msg
            if not self.view.is_closing and self.view.state not in ("CLOSED", "DISCONNECTED"):
                self.initiate_close("disconnect")
        elif kind == "closed":
            self._closed.set()
            self.view.state = "CLOSED"  # initiateDisconnect
            assert self._ws is not None
            await self._ws.aclose()
            self._cleanup()

    def _cleanup(self) -> None:
        """``handleCloseCleanup`` (state first, so the source's final 'end' starts no close)."""
        self.view.state = "DISCONNECTED"
        self._stop_ping_timers()
        self.source.close()
        self.disconnected.set()

    # ------------------------------------------------------------------- sending

    def _builder(self) -> MessageBuilder:
        """The message builder, its position moved to the media source's (``buildMessage``)."""
        self.out.pos = self.source.sample_pos
        return self.out

    def _send(self, message: dict[str, Any]) -> dict[str, Any]:
        """``sendMessage``: queued in the order built."""
        self.sent.append(message)
        self._outbox_send.send_nowait((encode(message), message["seq"]))
        return message

    def _on_source(self, kind: str, *args: Any) -> None:
        is_open = self.view.state == "OPEN"
        if kind == "audio" and is_open:
            self._outbox_send.send_nowait((bytes(args[0]), None))
        elif kind == "discarded" and is_open:
            self._send(self._builder().discarded(_samples(args[0]), _samples(args[1])))
        elif kind == "paused" and is_open:
            self._send(self._builder().paused())
        elif kind == "resumed" and is_open:
            self._send(self._builder().resumed(_samples(args[0]), _samples(args[1])))
        elif kind == "end":
            self.initiate_close("end")

    def _start_streaming(self, parameters: dict[str, Any]) -> None:
        media = parameters["media"]
        discard_to = parameters.get("discardTo")
        self.source.start(
            media[0] if media else None,
            float(discard_to[2:-1]) if discard_to else None,
            bool(parameters.get("startPaused", False)),
        )
        assert self._inner is not None
        self._inner.start_soon(self._stream)
        self._start_ping_task(self.timing.initial_ping_delay, repeat=False)

    async def _stream(self) -> None:
        while True:  # setImmediate(handler), then setInterval(handler, 200 ms)
            if not self.source.timer_running:
                return
            self.source.tick()
            for target, event in self._position_waiters:
                if self.source.sample_pos >= target:
                    event.set()
            await trio.sleep(self.timing.frame_period)

    # --------------------------------------------------------------------- pings

    def _start_ping_task(self, delay: float, *, repeat: bool) -> None:
        scope = trio.CancelScope()
        self._ping_scopes.append(scope)

        async def timer() -> None:
            with scope:
                while True:
                    await trio.sleep(delay)
                    await self._pending_pong()
                    self.send_ping()
                    if not repeat:
                        return

        assert self._inner is not None
        self._inner.start_soon(timer)

    def _stop_ping_timers(self) -> None:
        for scope in self._ping_scopes:
            scope.cancel()

    async def _pending_pong(self) -> None:
        """The next ping is due: 408 unless the outstanding ping's pong arrives within its deadline,
        :attr:`Timing.pong_timeout` after the ping was written (while it is still in our own
        outbox, the server cannot be late)."""
        while (seq := self.view.pending_ping) is not None:
            written = self.written_at.get(seq)
            now = trio.current_time()
            if written is not None and now >= written + self.timing.pong_timeout:
                raise ReferenceViolation(408, f"Timeout waiting for pong (ping seq={seq})")
            with trio.move_on_after(0.01 if written is None else written + self.timing.pong_timeout - now):
                await self._received.wait()

    def send_ping(self) -> None:
        """``sendPing`` (the first starts the interval timer; the 408 check is :meth:`_pending_pong`).

        A ping asked for while one is outstanding (a suite helper's beside the timer's) goes out
        as soon as that pong arrives.
        """
        if self.view.state != "OPEN":
            self._stop_ping_timers()
            return
        if not self._interval_started:
            self._interval_started = True
            self._start_ping_task(self.timing.ping_interval, repeat=True)
        if self.view.pending_ping is not None:
            self._ping_wanted = True
            return
        message = self._send(self._builder().ping(self.last_rtt or None))
        self.view.pending_ping = message["seq"]
        if self.view.initial_ping_timer:
            self.view.ping_msg = message

    # --------------------------------------------------------------- closing

    def initiate_close(self, reason: str) -> None:
        """``initiateClose``: stop media and pings, send ``close``, expect ``closed`` within 10 s."""
        if self.view.is_closing or self.view.state in ("CLOSED", "DISCONNECTED"):
            return
        self.view.state = "CLOSING-ERROR" if reason == "error" else "CLOSING"
        self._open_settled.set()  # the open timer is cancelled
        self.source.close()
        self._stop_ping_timers()

        async def close_timer() -> None:
            await trio.sleep(self.timing.close_timeout)
            if self.view.is_closing:
                raise ReferenceViolation(408, "Close transaction timeout")

        assert self._inner is not None
        self._inner.start_soon(close_timer)
        self._send(self._builder().close(reason))
