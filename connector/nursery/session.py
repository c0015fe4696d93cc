"""One AudioHook session as one trio nursery.

Children: the receiver (reads frames, feeds the sans-IO machine, applies its effects), the
sender (the only writer), one task per recognizer generation (holding each channel's
recognizer and delivery tasks, and the translator where the call asked for translation), and
small watchdogs for the open and close deadlines. A server shutdown reaches the session as a
callback, not as one more parked task per call. Whatever ends the session -- ``closed``, the client
vanishing, a send that cannot complete, a server shutdown, cancellation from outside -- the
nursery exits with nothing left running, and the WebSocket is closed in shielded cleanup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import trio

from ..asr import EngineRegistry
from ..limits import SessionLimits
from ..observe import Observer, SessionTally
from ..protocol import (
    Audio,
    AwaitClose,
    Backoff,
    CallSettings,
    Closing,
    ControlRequest,
    Discarded,
    Effect,
    FlushTranscription,
    Opened,
    Outbox,
    Outgoing,
    SessionMachine,
    StartTranscription,
    State,
    StopTranscription,
    Track,
)
from ..redaction import Mode, call_mode, redact_hypothesis, redacts_sent
from ..report import Outcome, SessionReport
from ..store.controls import ControlHub
from ..store.journal import Journal, NullJournal
from ..store.records import ControlRecord
from ..vocabulary import Hypothesis
from ..websocket import ConnectionClosed
from .sender import Sender
from .transcription import Generation, Pipeline

__all__ = ["Outcome", "SessionLimits", "SessionReport", "Shutdown", "WebSocket", "run_session"]

log = logging.getLogger(__name__)

CONTROL_LOOKUP_WAIT = 2.0
"""Seconds a call opened with ``CONNECTOR_TRANSCRIBE=on-start`` holds its input while the
conversation's stored control is looked up (a lookup is one indexed read: milliseconds)."""


class WebSocket(Protocol):
    """What the session needs of a connection (:class:`connector.websocket.WebSocketConnection`).

    ``get_message`` and ``send_message`` raise :class:`connector.websocket.ConnectionClosed`
    once the connection is closed or lost.
    """

    async def get_message(self) -> str | bytes: ...

    async def send_message(self, message: str | bytes) -> None: ...

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None: ...


class Shutdown:
    """The server's "please end" to every live session, without a waiting task per session.

    A thousand calls would otherwise keep a thousand tasks parked on one ``trio.Event``; here
    each session registers a plain callback, called once when the server starts shutting down.
    """

    def __init__(self) -> None:
        self.is_set = False
        self._callbacks: set[Callable[[], None]] = set()

    def set(self) -> None:
        if self.is_set:
            return
        self.is_set = True
        for callback in list(self._callbacks):
            callback()

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` on :meth:`set` (at once if already set); returns the unsubscribe."""
        if self.is_set:
            callback()
            return lambda: None
        self._callbacks.add(callback)
        return lambda: self._callbacks.discard(callback)


@dataclass
class _Session:
    ws: WebSocket
    machine: SessionMachine
    engines: EngineRegistry
    limiter: trio.CapacityLimiter
    limits: SessionLimits
    shutdown: Shutdown
    pipeline_for: Callable[[CallSettings], Pipeline | None]
    report: SessionReport
    observer: Observer
    journal: Journal
    controls: ControlHub | None
    redaction: Mode = "stored"
    """The server's default; the call's own (``customConfig.redaction``) is read when it starts."""

    def __post_init__(self) -> None:
        self.sender = Sender(
            self.machine,
            self.ws.send_message,
            send_timeout=self.limits.send_timeout,
            observer=self.observer,
            on_written=self._written,
        )
        self.outbox = self.machine.outbox
        self.open_at: float | None = None
        self.generations_started = 0
        self.report.machine = self.machine
        self.current: Generation | None = None
        self.live: set[Generation] = set()
        self.client_closed = trio.Event()
        self.open_received = trio.Event()
        self.close_received = trio.Event()
        self.transcribed_seconds = 0.0
        """Audio fed to recognizers (the control API's summary)."""
        self.next_progress = float("inf")
        self.redact_sent = False
        """``all``: what Genesys gets is redacted too (not only the store and the webhooks)."""
        self._unsubscribe_control: Callable[[], None] | None = None
        self._held: list[str | bytes] | None = None
        """Messages received while a call that may not transcribe yet waits for its stored control."""
        self._held_until = 0.0

    async def run(self) -> None:
        unsubscribe: Callable[[], None] | None = None
        try:
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                nursery.start_soon(self._send_loop)
                nursery.start_soon(self._receive_loop)
                nursery.start_soon(self._open_watchdog)
                unsubscribe = self.shutdown.subscribe(self._on_shutdown)
        finally:
            if unsubscribe is not None:
                unsubscribe()
            if self._unsubscribe_control is not None:
                self._unsubscribe_control()  # no checkpoint since the nursery closed: none can arrive late

    # ---------------------------------------------------------------- tasks

    async def _receive_loop(self) -> None:
        idle = self.limits.idle_timeout
        try:
            with trio.CancelScope(deadline=trio.current_time() + idle) as idle_scope:
                bumped = trio.current_time()
                while True:
                    message = await self.ws.get_message()
                    now = trio.current_time()
                    if now - bumped >= 1.0:  # moving the deadline on every frame would cost more
                        idle_scope.deadline = now + idle
                        bumped = now
                        if now >= self.next_progress:
                            self.next_progress = now + self.journal.progress_every
                            self.journal.progress(self.machine, self.transcribed_seconds)
                    if self._held is not None:
                        self._held.append(message)
                        if now < self._held_until:
                            continue
                        log.warning("stored control not read in time; going on without it")
                        self._release()
                    else:
                        if self.open_at is None and isinstance(message, str):
                            self.open_at = now
                        self._receive(message)
            log.warning("client silent for too long; ending the session", extra={"idle_timeout": idle})
            self.report.outcome = Outcome.VANISHED
            self.nursery.cancel_scope.cancel()
        except ConnectionClosed:
            self.client_closed.set()
            if not self.sender.finished.is_set():
                self.report.outcome = Outcome.VANISHED
                log.info("client closed the connection before 'closed'")
                self.nursery.cancel_scope.cancel()

    async def _send_loop(self) -> None:
        try:
            await self.sender.run()
        except (ConnectionClosed, trio.TooSlowError, trio.BrokenResourceError) as exc:
            log.warning("cannot send to the client; ending the session", extra={"error": type(exc).__name__})
            self.report.outcome = Outcome.VANISHED
            self.nursery.cancel_scope.cancel()
            return
        # ``closed`` is out: the client closes the socket; give it a bounded moment.
        with trio.move_on_after(self.limits.close_timeout):
            await self.client_closed.wait()
        self.nursery.cancel_scope.cancel()

    async def _open_watchdog(self) -> None:
        with trio.move_on_after(self.limits.open_timeout):
            await self.open_received.wait()
            return
        self.apply(self.machine.disconnect("error", "Timed out waiting for 'open'"))

    def _on_shutdown(self) -> None:
        log.info("server shutdown: asking the client to end the session")
        self.apply(self.machine.disconnect("completed", "Server is shutting down"))

    async def _expect_close(self) -> None:
        """After ``disconnect`` the client must ``close``; if it does not, drop the connection."""
        with trio.move_on_after(self.limits.close_timeout):
            await self.close_received.wait()
            return
        log.warning("client did not close after 'disconnect'; dropping the connection")
        self.nursery.cancel_scope.cancel()

    async def _await_stop(self, generation: Generation, then_closed: bool) -> None:
        with trio.move_on_after(self.limits.engine_stop_timeout):
            await generation.done.wait()
        if not generation.done.is_set():
            log.warning("engine did not finish in time; cancelling it", extra={"engine": generation.engine.name})
            generation.cancel_scope.cancel()
            await generation.done.wait()
        if then_closed:
            await self._closed_after_live()

    async def _closed_after_live(self) -> None:
        """Every recognizer of the session has ended (each stopping one has its own deadline):
        their finals are in the outbox, so ``closed`` may follow them."""
        for other in list(self.live):
            await other.done.wait()
        self.apply(self.machine.transcription_stopped())

    async def _run_generation(self, generation: Generation) -> None:
        try:
            await generation.run()
        finally:
            self.live.discard(generation)

    def _written(self, message: Outgoing) -> None:
        if message.type == "opened" and self.open_at is not None:
            self.observer.opened_sent(trio.current_time() - self.open_at)
        self.journal.written(message, self.machine)

    def _opened(self) -> None:
        """``open`` handled: a served call is recorded and listens for control requests."""
        self.open_received.set()
        machine = self.machine
        if machine.conversation_id is None or machine.is_probe or machine.disconnect_sent:
            return
        self.journal.opened(machine)
        self.next_progress = trio.current_time() + self.journal.progress_every
        if self.controls is None:
            return
        looked_up = None
        if not machine.transcription_allowed:
            # A start may have been stored before Genesys opened the call: hold what the client
            # sends until it has been looked up (bounded), so the call's first words are not lost.
            self._held, self._held_until = [], trio.current_time() + CONTROL_LOOKUP_WAIT
            looked_up = self._release
        self._unsubscribe_control = self.controls.subscribe(machine.conversation_id, self._control, looked_up)

    def _release(self) -> None:
        """Hand the held messages to the machine, in order, as if they had just arrived."""
        held, self._held = self._held, None
        for message in held or ():
            self._receive(message)

    def _receive(self, message: str | bytes) -> None:
        """One client message into the machine, and its effects carried out."""
        if isinstance(message, str):
            self.apply(self.machine.receive_text(message))
        else:
            self.apply(self.machine.receive_binary(message))

    def _control(self, record: ControlRecord) -> None:
        """A start or stop from the control API (the hub calls this on the event loop)."""
        request = ControlRequest(
            record.version, record.state == "started", record.language, record.engine, record.options
        )
        self.apply(self.machine.control(request))
        log.info("control request applied", extra={"state": record.state, "version": record.version})
        controls, conversation_id = self.controls, self.machine.conversation_id
        if controls is None or conversation_id is None:
            return
        # "Applied" once the session's row says so: a status read after it shows the new state.
        self.journal.progress(
            self.machine, self.transcribed_seconds, then=lambda: controls.applied(conversation_id, record.version)
        )

    def _engine_failed(self, engine: str, info: str) -> None:
        self.observer.engine_error(engine)
        self.apply(self.machine.engine_failed(info))

    # -------------------------------------------------------------- effects

    def apply(self, effects: list[Effect]) -> None:
        """Carry out what the machine said; runs once per audio frame, so it stays plain."""
        for effect in effects:
            match effect:
                case Audio(seconds, channels, stream_sample):
                    self.observer.audio_received(seconds)
                    if channels and self.current is not None:
                        self.transcribed_seconds += seconds
                        self.current.feed(channels, stream_sample)
                case Discarded(seconds):
                    self.observer.audio_discarded(seconds)
                case Opened():
                    self._opened()
                case Closing():
                    self.close_received.set()
                case AwaitClose():
                    self.nursery.start_soon(self._expect_close)
                case StartTranscription(settings):
                    self._start(settings)
                case FlushTranscription():
                    if self.current is not None:
                        self.current.flush()
                case StopTranscription(then_closed):
                    self._stop(then_closed)
                case Backoff(seconds):
                    self.outbox.backoff(seconds, trio.current_time())
        if self.outbox.news:
            self.outbox.news = False
            self.sender.wake()

    def transcript(self, track: Track, hypothesis: Hypothesis, heard_at: float | None) -> None:
        """A channel's result: phrase rules see it first (a phrase on a partial is reported at
        once), then into the machine's outbox (a typed path, see TranscriptSink)."""
        self.journal.heard(self.machine, track, hypothesis)
        if self.redact_sent:
            hypothesis = redact_hypothesis(hypothesis)
        self.apply(self.machine.transcript(track, hypothesis, heard_at))

    def _start(self, settings: CallSettings) -> None:
        engine = self.engines.get(settings.engine)
        self.journal.engine = engine.name
        self.redact_sent = redacts_sent(call_mode(settings.options, self.redaction))  # checked at ``open``
        self.generations_started += 1
        if self.generations_started > 1:
            self.observer.engine_restart(engine.name)
        generation = Generation(
            settings=settings,
            engine=engine,
            limiter=self.limiter,
            sink=self.transcript,
            on_failure=lambda info: self._engine_failed(engine.name, info),
            observer=self.observer,
            max_buffered_seconds=self.limits.max_buffered_audio,
            chunk_seconds=self.limits.engine_chunk,
            pipeline=self.pipeline_for(settings),
            partials=bool(settings.options.get("partialResults", self.limits.send_partials)),
            after=[earlier.done for earlier in self.live],
        )
        self.current = generation
        self.live.add(generation)
        self.nursery.start_soon(self._run_generation, generation)

    def _stop(self, then_closed: bool) -> None:
        generation, self.current = self.current, None
        if generation is None:
            if then_closed:
                self.nursery.start_soon(self._closed_after_live)
            return
        generation.stop()
        self.nursery.start_soon(self._await_stop, generation, then_closed)


def _final_outcome(machine: SessionMachine, report: SessionReport, reason: str | None) -> Outcome:
    """One outcome per session for logs and metrics; a ``disconnect`` we sent decides first."""
    if reason == "unauthorized":
        return Outcome.UNAUTHORIZED
    if reason == "error":
        return Outcome.ERROR
    if reason is not None:
        return Outcome.DISCONNECTED
    if report.outcome is Outcome.VANISHED:
        return Outcome.VANISHED
    if machine.is_probe:
        return Outcome.PROBE
    return Outcome.COMPLETED if machine.state is State.CLOSED else Outcome.ERROR


async def run_session(
    ws: WebSocket,
    machine: SessionMachine,
    *,
    engines: EngineRegistry,
    limiter: trio.CapacityLimiter,
    limits: SessionLimits,
    shutdown: Shutdown,
    pipeline_for: Callable[[CallSettings], Pipeline | None] = lambda settings: None,
    observer: Observer | None = None,
    journal: Journal | None = None,
    controls: ControlHub | None = None,
    redaction: Mode = "stored",
) -> SessionReport:
    """Serve one session on an accepted WebSocket until it ends; always closes the socket."""
    report = SessionReport()
    tally = SessionTally(report, observer)
    if machine.outbox.seq or not machine.outbox.idle:
        raise ValueError("run_session needs a machine that has sent nothing yet")
    # The session's outbox, with its limits, counting into the report and the server's observer.
    machine.outbox = Outbox(
        machine.session_id,
        rate=limits.event_rate,
        burst=limits.event_burst,
        batch_threshold=limits.event_batch_threshold,
        max_queued=limits.max_queued_events,
        observer=tally,
    )
    journal = journal if journal is not None else NullJournal()
    session = _Session(
        ws, machine, engines, limiter, limits, shutdown, pipeline_for, report, tally, journal, controls, redaction
    )
    try:
        await session.run()
    finally:
        machine.outbox.discard()
        with trio.CancelScope(shield=True), trio.move_on_after(2):
            await ws.aclose()
        reason = machine.disconnect_reason
        report.disconnect_reason = reason
        report.outcome = _final_outcome(machine, report, reason)
        journal.ended(machine, report, session.transcribed_seconds)
    return report
