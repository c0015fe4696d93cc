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
  next is due. :class:`Timing` compresses the media clock and the ping cadence together (the
  open and close deadlines stay real: they measure the server);
* its reactions: ``pause``/``resume`` drive the media source, which sends ``paused`` /
  ``resumed``; ``disconnect`` starts a close with reason ``disconnect``.

The jest suite's helpers are methods with the same names (``pinging``, ``pausing``...).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from connector.simulator.builder import MessageBuilder, encode, fine_duration
from connector.simulator.referee import ClientView, ReferenceViolation, check_server_message
from connector.testing.server import TEST_SECRET
from tests.conformance.refmedia import RATE, MediaSource
from tests.rawclient import connect

__all__ = ["NIL", "ReferenceClient", "Timing", "as_duration"]

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


class ReferenceClient:
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
        self.source.emit = self._on_source
        self._outbox_send, self._outbox_receive = trio.open_memory_channel[str | bytes](math.inf)
        self._opened = trio.Event()
        self._open_settled = trio.Event()
        self._received = trio.Event()
        self._pong = trio.Event()
        self.pongs = 0
        self._closed = trio.Event()
        self.disconnected = trio.Event()
        self._ping_scopes: list[trio.CancelScope] = []
        self._interval_started = False
        self._ping_sent_at = 0.0
        self._position_waiters: list[tuple[int, trio.Event]] = []
        self._ws: WebSocketConnection | None = None
        self._inner: trio.Nursery | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self, nursery: trio.Nursery) -> ReferenceClient:
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
        async for item in self._outbox_receive:
            try:
                await self._ws.send_message(item)
            except ConnectionClosed:
                return  # the reader reports how the connection ended

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
                self.last_rtt = trio.current_time() - self._ping_sent_at
                if self.view.initial_ping_timer:
                    # Answer to the first ping: ping again at once for an early RTT figure.
                    self.view.initial_ping_timer = False
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
        self._outbox_send.send_nowait(encode(message))
        return message

    def _on_source(self, kind: str, *args: Any) -> None:
        is_open = self.view.state == "OPEN"
        if kind == "audio" and is_open:
            self._outbox_send.send_nowait(bytes(args[0]))
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
                    self.send_ping()
                    if not repeat:
                        return

        assert self._inner is not None
        self._inner.start_soon(timer)

    def _stop_ping_timers(self) -> None:
        for scope in self._ping_scopes:
            scope.cancel()

    def send_ping(self) -> None:
        """``sendPing``: 408 if the previous ping is still unanswered when the next is due."""
        if self.view.state != "OPEN":
            self._stop_ping_timers()
            return
        if not self._interval_started:
            self._interval_started = True
            self._start_ping_task(self.timing.ping_interval, repeat=True)
        if self.view.pending_ping is not None:
            raise ReferenceViolation(408, f"Timeout waiting for pong (ping seq={self.view.pending_ping})")
        message = self._send(self._builder().ping(self.last_rtt or None))
        self.view.pending_ping = message["seq"]
        self._ping_sent_at = trio.current_time()
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

    # ------------------------------------------------- the jest suite's helpers

    def pinging(self) -> None:
        self.send_ping()

    def erroring(self, code: int = 400, message: str = "tough stuff", retry_after: str | None = None) -> None:
        params: dict[str, Any] = {"code": code, "message": message}
        if retry_after is not None:
            params["retryAfter"] = retry_after
        self._send(self._builder().message("error", params))

    def updating(self, language: str) -> None:
        self._send(self._builder().update(language))

    def discarding(self, start: str, duration: str) -> None:
        """The suite passes Duration strings of its own (which need not be whole samples)."""
        self._send(self._builder().message("discarded", {"start": start, "discarded": duration}))

    def pausing(self) -> None:
        """``pausing()``: the source emits ``paused`` *and* the helper sends another one."""
        self.source.pause()
        self.view.paused_msg = self._send(self._builder().paused())

    def resuming(self) -> None:
        """``resuming(start, discarded)`` ignores its arguments: the source computes them."""
        self.source.resume()

    async def close(self) -> None:
        """``client.close()``: close with reason ``end`` and wait until disconnected."""
        self.initiate_close("end")
        await self.wait_disconnected()

    async def wait_disconnected(self) -> None:
        with trio.fail_after(self.timing.close_timeout + 2):
            await self.disconnected.wait()

    async def wait_closed(self, limit: float = 15) -> None:
        """``waitForClosed``: until the ``closed`` message arrived."""
        with trio.fail_after(limit):
            await self._closed.wait()

    async def wait_pong(self, count: int = 1, limit: float = 5) -> None:
        """``waitForPong``: until ``count`` pongs have arrived in total."""
        with trio.fail_after(limit):
            while self.pongs < count:
                await self._pong.wait()

    async def wait_position(self, seconds: float, limit: float = 10) -> None:
        """The compressed ``delay(ms)``: until the media source has streamed up to ``seconds``."""
        event = trio.Event()
        target = round(seconds * RATE)
        if self.source.sample_pos >= target:
            return
        self._position_waiters.append((target, event))
        with trio.fail_after(limit):
            await event.wait()

    async def wait_message(
        self, msg_type: str, match: Callable[[dict[str, Any]], bool] = lambda m: True, limit: float = 5
    ) -> dict[str, Any]:
        """Until a ``msg_type`` message for which ``match`` holds has arrived."""
        with trio.fail_after(limit):
            while True:
                for message in self.messages(msg_type):
                    if match(message):
                        return message
                await self._received.wait()

    def messages(self, msg_type: str) -> list[dict[str, Any]]:
        return [m for m in self.view.received if m["type"] == msg_type]

    def sent_of(self, msg_type: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["type"] == msg_type]
