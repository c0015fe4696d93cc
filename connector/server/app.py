"""The public port: HTTP routing, the WebSocket handshake, sessions, and graceful shutdown.

One listener serves everything Genesys and a load balancer need behind one URL: WebSocket
upgrades on the configured path, ``GET /health``, and any extra GET routes (``/metrics``).
We read the request head ourselves so that routing, authentication and refusals (401, 503,
404 with a JSON body) happen *before* the upgrade, and so that the signature is checked
against the real ``Host``. Accepted upgrades become a :class:`connector.websocket.WebSocketConnection`
read by the session's own receiver task.

Shutdown (SIGTERM): stop accepting, let live sessions finish for ``drain_timeout``, then ask
the rest to end with ``disconnect`` (finals are still flushed), and finally cancel whatever
has not closed within the close and engine-stop timeouts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import trio

from ..asr import EngineConfigError, EngineRegistry
from ..config import Settings
from ..logs import bind
from ..nursery import Outcome, SessionReport, Shutdown, run_session
from ..nursery.transcription import Pipeline
from ..observe import NullObserver, Observer
from ..protocol import CallSettings, SessionMachine
from ..protocol.messages import LANGUAGE_CODE, is_uuid
from ..redaction import Mode, call_mode
from ..security import FAILURE_DELAY, Authenticator
from ..websocket import HandshakeError, WebSocketConnection, accept_response, check_upgrade
from .http import HttpError, Request, read_request, send_json

if TYPE_CHECKING:
    from ..store.service import StoreService

__all__ = ["ConnectorServer", "EnginePolicy", "Route"]

log = logging.getLogger(__name__)


class Service(Protocol):
    """Something started with the server and closed after it (a translator client, ...)."""

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


Route = Callable[[Request], Awaitable[tuple[int, Any, str]]]
"""A GET handler: returns (status, body, content type); body is bytes or JSON-able."""

MAX_WEBSOCKET_MESSAGE = 1 << 20
"""Messages above this are refused with close 1009; text over 64 KiB gets a ``disconnect``."""


@dataclass
class EnginePolicy:
    """:class:`connector.protocol.SessionPolicy` over the server's engines."""

    engines: EngineRegistry
    translation_check: Callable[[Mapping[str, Any]], str | None] = lambda options: None
    redaction: Mode = "stored"

    def supported_languages(self, engine: str | None) -> Sequence[str]:
        """Only codes the client's validator accepts (a list from the environment may not)."""
        try:
            languages = self.engines.get(engine).supported_languages()
        except EngineConfigError:
            return []
        return [code for code in languages if LANGUAGE_CODE.match(code)]

    def language_supported(self, engine: str | None, language: str) -> bool:
        try:
            return self.engines.get(engine).supports_language(language)
        except EngineConfigError:
            return False

    def check_call(self, engine: str | None, language: str, options: Mapping[str, Any]) -> str | None:
        if not isinstance(options.get("partialResults", False), bool):
            return "customConfig.partialResults must be true or false"
        try:
            call_mode(options, self.redaction)
        except ValueError as exc:
            return str(exc)
        try:
            factory = self.engines.get(engine)
            factory.check(language, options)
        except EngineConfigError as exc:
            return str(exc)
        return self.translation_check(options)


@dataclass
class ServerStats:
    sessions_active: int = 0
    sessions_total: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    http_requests: int = 0
    rejected_upgrades: dict[int, int] = field(default_factory=dict)


class ConnectorServer:
    def __init__(
        self,
        settings: Settings,
        engines: EngineRegistry,
        *,
        authenticator: Authenticator | None = None,
        limiter: trio.CapacityLimiter | None = None,
        pipeline_for: Callable[[CallSettings], Pipeline | None] = lambda settings: None,
        translation_check: Callable[[Mapping[str, Any]], str | None] = lambda options: None,
        routes: dict[str, Route] | None = None,
        on_session_end: Callable[[SessionReport], None] | None = None,
        observer: Observer | None = None,
        background: Sequence[Callable[[], Awaitable[None]]] = (),
        services: Sequence[Service] = (),
        wall_clock: Callable[[], float] = time.time,
        store: StoreService | None = None,
    ) -> None:
        self.store = store
        self.observer: Observer = observer or NullObserver()
        self.background = background
        self.services = services
        self.settings = settings
        self.engines = engines
        self.policy = EnginePolicy(engines, translation_check, settings.redaction)
        self.authenticator = authenticator or (
            Authenticator(
                settings.api_keys,
                organization_allowlist=settings.organization_allowlist,
                clock_skew=settings.clock_skew,
                max_age=settings.signature_max_age,
                nonce_min_length=settings.nonce_min_length,
            )
            if settings.api_keys
            else None
        )
        self.limiter = limiter or trio.CapacityLimiter(settings.worker_threads)
        self.pipeline_for = pipeline_for
        self.routes: dict[str, Route] = {"/health": self._health, **(routes or {})}
        self.on_session_end = on_session_end
        self.wall_clock = wall_clock
        self.limits = settings.limits
        self.stats = ServerStats()
        self.draining = False
        self._stop = trio.Event()
        self._sessions_shutdown = Shutdown()
        self._idle = trio.Event()
        self._idle.set()
        self.connections = 0

    # ------------------------------------------------------------ lifecycle

    async def wait_idle(self) -> None:
        """Return once no connection is being served (tests and drain use it)."""
        await self._idle.wait()

    def request_stop(self) -> None:
        """Begin a graceful shutdown (idempotent; safe from a signal-handling task)."""
        self._stop.set()

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Start engines, listen, and serve until :meth:`request_stop`; reports the bound port."""
        await self.engines.start()
        for service in self.services:
            await service.start()
        try:
            listeners = await trio.open_tcp_listeners(self.settings.port, host=self.settings.host)
            port = int(listeners[0].socket.getsockname()[1])
            log.info(
                "listening",
                extra={
                    "host": self.settings.host,
                    "port": port,
                    "path": self.settings.path,
                    "engines": ",".join(self.engines.names),
                },
            )
            async with trio.open_nursery() as root:
                accept_scope = trio.CancelScope()

                async def accept() -> None:
                    with accept_scope:
                        await trio.serve_listeners(self._handle_connection, listeners, handler_nursery=root)

                root.start_soon(accept)
                for task in self.background:
                    root.start_soon(task)
                task_status.started(port)
                await self._stop.wait()
                await self._drain(accept_scope, listeners)
                root.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                for service in self.services:
                    await service.aclose()
                await self.engines.aclose()
            log.info("stopped", extra={"sessions_total": self.stats.sessions_total})

    async def _drain(self, accept_scope: trio.CancelScope, listeners: list[trio.SocketListener]) -> None:
        """Keep answering (health 503, upgrades 503) while live sessions finish, then stop."""
        self.draining = True
        log.info("draining", extra={"sessions": self.stats.sessions_active, "timeout": self.settings.drain_timeout})
        with trio.move_on_after(self.settings.drain_timeout):
            await self._idle.wait()
        if self.connections:
            log.info("drain timeout: ending live sessions", extra={"sessions": self.stats.sessions_active})
            self._sessions_shutdown.set()
            grace = self.limits.close_timeout + self.limits.engine_stop_timeout + 2
            with trio.move_on_after(grace):
                await self._idle.wait()
        accept_scope.cancel()
        for listener in listeners:
            await listener.aclose()

    # ----------------------------------------------------------- connections

    async def handle_stream(self, stream: trio.abc.Stream) -> None:
        """Serve one already-accepted connection (any trio stream: tests use memory streams)."""
        await self._handle_connection(stream)

    async def _handle_connection(self, stream: trio.abc.Stream) -> None:
        self.connections += 1
        self._idle = self._idle if self.connections > 1 else trio.Event()
        try:
            await self._serve_connection(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError):
            pass  # the peer went away mid-handshake; nothing to answer
        except Exception:
            log.exception("unexpected error while serving a connection")
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await stream.aclose()
            self.connections -= 1
            if self.connections == 0:
                self._idle.set()

    async def _serve_connection(self, stream: trio.abc.Stream) -> None:
        started = trio.current_time()
        try:
            with trio.fail_after(self.settings.handshake_timeout):
                request = await read_request(stream)
        except HttpError as exc:
            await send_json(stream, exc.status, {"error": "bad_request", "info": str(exc)})
            return
        if request is None:
            return
        self.stats.http_requests += 1
        if request.path == self.settings.path:
            await self._upgrade(stream, request, started)
            return
        route = self.routes.get(request.path)
        if route is None:
            await send_json(stream, 404, {"error": "not_found", "info": f"no route for {request.path}"})
        elif request.method not in ("GET", "HEAD"):
            await send_json(stream, 405, {"error": "method_not_allowed", "info": "use GET"})
        else:
            status, body, content_type = await route(request)
            await send_json(stream, status, body, content_type=content_type)

    async def _health(self, request: Request) -> tuple[int, Any, str]:
        body = {
            "status": "draining" if self.draining else "ok",
            "sessions": self.stats.sessions_active,
            "engines": self.engines.names,
        }
        return (503 if self.draining else 200), body, "application/json"

    async def _refuse(
        self, stream: trio.abc.Stream, status: int, error: str, info: str, headers: list[tuple[str, str]] | None = None
    ) -> None:
        self.stats.rejected_upgrades[status] = self.stats.rejected_upgrades.get(status, 0) + 1
        self.observer.upgrade_refused(status, error)
        await send_json(stream, status, {"error": error, "info": info}, extra_headers=headers)

    async def _upgrade(self, stream: trio.abc.Stream, request: Request, started: float) -> None:
        if request.method != "GET" or not request.is_websocket_upgrade:
            await self._refuse(stream, 426, "upgrade_required", "this path accepts WebSocket upgrades only")
            return
        try:
            key = check_upgrade(request.header)
        except HandshakeError as exc:
            await self._refuse(stream, exc.status, "bad_handshake", exc.reason, exc.headers)
            return
        if self.draining:
            await self._refuse(stream, 503, "draining", "server is shutting down")
            return
        if self.settings.max_sessions and self.stats.sessions_active >= self.settings.max_sessions:
            await self._refuse(stream, 503, "busy", "session limit reached")
            return
        auth_failure, ids, replay = self._authenticate(request)
        if auth_failure is None and await self._replayed_elsewhere(replay):
            auth_failure = "FAILED: Replayed nonce"
        if auth_failure is not None and self.settings.auth_failure == "request":
            await trio.sleep_until(started + FAILURE_DELAY)
            log.warning("upgrade refused", extra={"reason": auth_failure})
            await self._refuse(stream, 401, "unauthorized", auth_failure)
            return
        if auth_failure is not None and ids is None:
            # Without a valid session id we cannot even address a ``disconnect``.
            await trio.sleep_until(started + FAILURE_DELAY)
            await self._refuse(stream, 400, "bad_request", auth_failure)
            return
        assert ids is not None
        organization_id, session_id, correlation_id = ids
        with bind(session=session_id, correlation=correlation_id, organization=organization_id):
            with trio.fail_after(self.settings.handshake_timeout):
                await stream.send_all(accept_response(key))
            ws = WebSocketConnection(
                stream,
                initial=request.rest,
                max_message_size=MAX_WEBSOCKET_MESSAGE,
                send_timeout=self.limits.send_timeout,
            )
            await self._run(ws, session_id, organization_id, correlation_id, auth_failure)

    async def _replayed_elsewhere(self, replay: tuple[str, float] | None) -> bool:
        """Whether the store (shared by the replicas) has seen this verified nonce already."""
        return replay is not None and self.store is not None and await self.store.replayed(*replay)

    def _authenticate(
        self, request: Request
    ) -> tuple[str | None, tuple[str, str, str] | None, tuple[str, float] | None]:
        """(failure reason or None, (org, session, correlation) when the ids are valid, and the
        verified nonce's replay key and expiry for the replicas' shared check)."""
        if self.authenticator is None:
            org, session, correlation = (
                request.header(f"audiohook-{name}-id") for name in ("organization", "session", "correlation")
            )
            if not (is_uuid(org) and is_uuid(session) and is_uuid(correlation)):
                return "PRECONDITION: Missing or invalid Audiohook-* id header", None, None
            return None, (str(org), str(session), str(correlation)), None
        result = self.authenticator.verify(
            method=request.method,
            target=request.target,
            host=request.header("host"),
            headers=request.headers,
            now=self.wall_clock(),
        )
        replay = (result.replay_key, result.replay_until) if result.ok and result.replay_key else None
        if result.organization_id and result.session_id and result.correlation_id:
            ids = (result.organization_id, result.session_id, result.correlation_id)
            return (None if result.ok else result.reason), ids, replay
        return (None if result.ok else result.reason), None, replay

    async def _run(
        self,
        ws: WebSocketConnection,
        session_id: str,
        organization_id: str,
        correlation_id: str,
        auth_failure: str | None,
    ) -> None:
        machine = SessionMachine(
            session_id=session_id,
            organization_id=organization_id,
            policy=self.policy,
            auth_failure=auth_failure,
            default_language=self.settings.default_language or None,
            transcription_allowed=self.settings.transcribe == "always",
        )
        store = self.store
        self.stats.sessions_active += 1
        self.stats.sessions_total += 1
        self.observer.session_started()
        log.info("session started")
        report = SessionReport()
        try:
            report = await run_session(
                ws,
                machine,
                engines=self.engines,
                limiter=self.limiter,
                limits=self.limits,
                shutdown=self._sessions_shutdown,
                pipeline_for=self.pipeline_for,
                observer=self.observer,
                redaction=self.settings.redaction,
                journal=store.journal(session_id, organization_id, correlation_id) if store is not None else None,
                controls=store.hub if store is not None else None,
            )
        finally:
            self.stats.sessions_active -= 1
            self.observer.session_ended(report)
        outcome = report.outcome.value
        self.stats.outcomes[outcome] = self.stats.outcomes.get(outcome, 0) + 1
        log.info(
            "session ended",
            extra={
                "outcome": outcome,
                "conversation": machine.conversation_id,
                "audio_seconds": round(machine.counters.audio_seconds, 3),
                "finals": report.transcription.finals,
                "events_sent": report.sender.events_sent if report.sender else 0,
                "audio_dropped_seconds": round(report.transcription.audio_dropped_seconds, 3),
            },
        )
        if report.outcome is Outcome.ERROR and machine.disconnect_reason is None:
            log.warning("session ended without close/closed")
        if self.on_session_end is not None:
            self.on_session_end(report)
