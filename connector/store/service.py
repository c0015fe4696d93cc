"""The store as the server runs it: database, writer, control hub, retention and shared nonces.

Started with the server (migrations applied in a worker thread before the port opens) and closed
after it: the writer gets a bounded moment to write what the last sessions left in its spool. The
long-running parts (:meth:`StoreService.run`) are the server's background tasks; every database
call runs in a worker thread under the store's own limiter.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import trio

from ..observe import Observer
from ..phrases import CompiledRule, PhraseRuleError, compile_rule
from ..redaction import Mode
from .controls import ControlHub
from .database import Database
from .journal import SessionJournal
from .records import PhraseRule, Subscription
from .redacting import redacted_text, redactor_for
from .settings import StoreSettings
from .writer import StoreWriter

__all__ = ["PURGE_EVERY", "StoreService"]

log = logging.getLogger(__name__)

PURGE_EVERY = 3600.0
"""Seconds between retention purges (the first runs a minute after start-up)."""
FLUSH_AT_CLOSE = 10.0
"""Seconds the writer may take at shutdown to write what is left."""
NONCE_TIMEOUT = 2.0
"""Seconds a handshake waits for the shared nonce check before relying on this process's cache."""


class StoreService:
    def __init__(
        self,
        settings: StoreSettings,
        observer: Observer,
        *,
        config_subscriptions: Sequence[Subscription] = (),
        config_rules: Sequence[PhraseRule] = (),
        redaction: Mode = "stored",
    ) -> None:
        if settings.url is None:
            raise ValueError("StoreService needs a store URL")
        self.settings = settings
        self.config_subscriptions = tuple(config_subscriptions)
        self.config_rules = tuple(config_rules)
        self.redaction = redaction
        """The server's default (``CONNECTOR_REDACTION``); a call may choose its own."""
        self._subscriptions = self.config_subscriptions
        self._rules = self.config_rules
        self._compiled = _compiled(self._rules)
        self._reload = trio.Event()
        self.database = Database(settings.url)
        self.limiter = trio.CapacityLimiter(settings.threads)
        self.writer = StoreWriter(
            self.database,
            self.limiter,
            observer,
            max_spool=settings.max_spool,
            batch_size=settings.batch_size,
            batch_delay=settings.batch_delay,
        )
        self.hub = ControlHub(self.database, self.limiter)
        self.hub.on_config = self.request_reload

    async def start(self) -> None:
        if self.settings.migrate:
            await trio.to_thread.run_sync(self.database.migrate, limiter=self.limiter)
        await self.reload()
        log.info(
            "transcript store ready",
            extra={"backend": self.database.backend, "retention_days": self.settings.retention_days},
        )

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            with trio.move_on_after(FLUSH_AT_CLOSE):
                await self.writer.flush()
            if self.writer.backlog:
                log.error("store not reachable at shutdown: records not written", extra={"rows": self.writer.backlog})
            await trio.to_thread.run_sync(self.database.close)

    def journal(self, session_id: str, organization_id: str, correlation_id: str) -> SessionJournal:
        return SessionJournal(
            self.writer,
            session_id=session_id,
            organization_id=organization_id,
            correlation_id=correlation_id,
            replica=self.settings.replica,
            progress_every=self.settings.progress_every,
            subscriptions=self.subscriptions,
            redactor_for=redactor_for(self.redaction),
            phrase_rules=self.compiled_phrase_rules,
            redact_text=redacted_text,
        )

    def compiled_phrase_rules(self) -> tuple[CompiledRule, ...]:
        """The phrase rules now, compiled once per change (a session replaces its own when this changes)."""
        return self._compiled

    def wake_on_deliveries(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` (the deliverer's) whenever webhook deliveries were queued: by this
        replica's writer once they are committed, or by another replica (NOTIFY)."""
        self.writer.on_deliveries = wake
        self.hub.on_deliveries = wake

    def subscriptions(self) -> tuple[Subscription, ...]:
        """Webhook subscriptions now: the configuration's, then the API's (reloaded on change)."""
        return self._subscriptions

    def phrase_rules(self) -> tuple[PhraseRule, ...]:
        return self._rules

    async def reload(self) -> None:
        """Read the API's subscriptions and phrase rules again (after a change here or on another replica)."""
        subscriptions = await trio.to_thread.run_sync(self.database.subscriptions, limiter=self.limiter)
        rules = await trio.to_thread.run_sync(self.database.phrase_rules, limiter=self.limiter)
        self._subscriptions = (*self.config_subscriptions, *subscriptions)
        self._rules = (*self.config_rules, *rules)
        self._compiled = _compiled(self._rules)

    async def replayed(self, replay_key: str, until: float) -> bool:
        """Whether another replica (or this one) already accepted this signature's nonce.

        Only a digest of the key is stored (it contains the caller's API key). If the database
        does not answer in time the handshake goes on: this process's own cache still refuses
        replays to it, and a call is not refused because the store is slow.
        """
        digest = hashlib.sha256(replay_key.encode()).hexdigest()
        now = datetime.now(UTC)
        expires = datetime.fromtimestamp(until, UTC)
        with trio.move_on_after(NONCE_TIMEOUT):
            try:
                return await trio.to_thread.run_sync(
                    lambda: self.database.nonce_seen_or_add(digest, now=now, expires_at=expires),
                    limiter=self.limiter,
                )
            except Exception as exc:
                log.warning("shared nonce check failed", extra={"error": type(exc).__name__})
                return False
        log.warning("shared nonce check timed out")
        return False

    async def run(self) -> None:
        """The writer, the control hub and the retention purge, until cancelled."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.writer.run)
            nursery.start_soon(self.hub.run)
            nursery.start_soon(self._reload_loop)
            if self.settings.retention_days > 0:
                nursery.start_soon(self._purge_loop)

    def request_reload(self) -> None:
        """Subscriptions or phrase rules changed (here through the API, or on another replica)."""
        self._reload.set()

    async def _reload_loop(self) -> None:
        while True:
            await self._reload.wait()
            self._reload = trio.Event()
            try:
                await self.reload()
            except Exception as exc:
                log.warning("cannot reload webhook subscriptions", extra={"error": type(exc).__name__})
                await trio.sleep(1.0)
                self._reload.set()

    async def _purge_loop(self) -> None:
        await trio.sleep(60.0)
        while True:
            before = datetime.now(UTC) - timedelta(days=self.settings.retention_days)
            try:
                purge = functools.partial(self.database.purge, before=before)
                removed = await trio.to_thread.run_sync(purge, limiter=self.limiter)
                log.info("retention purge", extra={"rows": removed, "before": before.isoformat()})
            except Exception as exc:
                log.warning("retention purge failed", extra={"error": type(exc).__name__})
            await trio.sleep(PURGE_EVERY)


def _compiled(rules: Sequence[PhraseRule]) -> tuple[CompiledRule, ...]:
    compiled = []
    for rule in rules:
        try:
            compiled.append(compile_rule(rule))
        except PhraseRuleError as exc:  # checked when it was stored; a rule from an older version may not pass
            log.warning("phrase rule skipped", extra={"rule": rule.id, "problem": str(exc)})
    return tuple(compiled)
