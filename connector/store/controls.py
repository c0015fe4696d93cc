"""Start/stop requests reaching the replica that holds the call, and the word that it applied them.

The control API writes a request into the store (:meth:`Database.put_control`, which gives it the
next version) and hands it to :meth:`ControlHub.requested`. Whichever replica holds a session of
that conversation applies it:

* **In-process** (SQLite: one server process): the request goes straight to the subscribed session.
* **Across replicas** (PostgreSQL): ``put_control`` also sends ``NOTIFY connector_control`` in its
  transaction; every replica LISTENs, and one holding the conversation reads the request and
  applies it (one round trip: well within a second). Sessions report back with
  :meth:`ControlHub.applied` (``NOTIFY connector_applied``), which is how the API can answer
  "applied" instead of "accepted".

A request made before Genesys opens the call is found when the session subscribes: the hub looks
the conversation's control up then. If the LISTEN connection drops, the hub reconnects and looks
up every subscribed conversation again, so no request is lost with the notification.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

import trio

from .database import APPLIED_CHANNEL, CONFIG_CHANNEL, CONTROL_CHANNEL, WEBHOOK_CHANNEL
from .records import ControlRecord

__all__ = ["APPLIED_CHANNEL", "CONTROL_CHANNEL", "ControlHub", "ControlSource"]

log = logging.getLogger(__name__)

_RECENT_APPLIED = 10_000
"""Conversations whose last applied version is remembered for :meth:`ControlHub.wait_applied`."""

Subscriber = Callable[[ControlRecord], None]


class Listener(Protocol):
    def wait(self, timeout: float) -> list[tuple[str, str]]: ...

    def close(self) -> None: ...


class ControlSource(Protocol):
    """What the hub needs of the database (:class:`connector.store.Database`)."""

    @property
    def backend(self) -> str: ...

    def control(self, conversation_id: str) -> ControlRecord | None: ...

    def notify_applied(self, conversation_id: str, version: int) -> None: ...

    def listener(self, channels: Sequence[str]) -> Listener: ...


class ControlHub:
    """The server's one hub: subscriptions of live sessions, waiters of the API, the LISTEN loop."""

    def __init__(self, database: ControlSource, limiter: trio.CapacityLimiter, *, listen_timeout: float = 0.5) -> None:
        self.database = database
        self.limiter = limiter
        self.shared = database.backend == "postgresql"
        self.listen_timeout = listen_timeout
        self._subscribers: dict[str, list[Subscriber]] = {}
        self._looked_up: dict[str, list[Callable[[], None]]] = {}
        self._lookups: dict[str, None] = {}  # conversations to look up, in order, without duplicates
        self._lookup_news = trio.Event()
        self._notices: list[tuple[str, int]] = []
        self._notice_news = trio.Event()
        self._applied: OrderedDict[str, int] = OrderedDict()
        self._waiters: dict[str, list[tuple[int, trio.Event]]] = {}
        self.listening = trio.Event()
        """Set once the LISTEN connection is up (PostgreSQL) or at once (in-process)."""
        self.on_config: Callable[[], None] = lambda: None
        """Another replica changed webhook subscriptions or phrase rules (reload them)."""
        self.on_deliveries: Callable[[], None] = lambda: None
        """Another replica queued webhook deliveries (wake the deliverer)."""

    # ------------------------------------------------------------------ sessions

    def subscribe(
        self, conversation_id: str, callback: Subscriber, looked_up: Callable[[], None] | None = None
    ) -> Callable[[], None]:
        """Call ``callback`` with each control request for the conversation (and the one stored
        already, if any); ``looked_up`` once the stored one has been looked up (found or not).
        Returns the unsubscribe."""
        self._subscribers.setdefault(conversation_id, []).append(callback)
        if looked_up is not None:
            self._looked_up.setdefault(conversation_id, []).append(looked_up)
        self._look_up(conversation_id)

        def unsubscribe() -> None:
            if looked_up is not None and looked_up in self._looked_up.get(conversation_id, []):
                self._looked_up[conversation_id].remove(looked_up)
                if not self._looked_up[conversation_id]:
                    del self._looked_up[conversation_id]
            callbacks = self._subscribers.get(conversation_id, [])
            if callback in callbacks:
                callbacks.remove(callback)
            if not callbacks:
                self._subscribers.pop(conversation_id, None)

        return unsubscribe

    def applied(self, conversation_id: str, version: int) -> None:
        """A session here applied ``version``: wake the API's waiters (here, and on other replicas)."""
        self._wake_waiters(conversation_id, version)
        if self.shared:
            self._notices.append((conversation_id, version))
            self._notice_news.set()

    # ------------------------------------------------------------------ the API

    async def requested(self, record: ControlRecord) -> None:
        """A request was stored: give it to this replica's sessions now (others hear the NOTIFY)."""
        self._dispatch(record)

    async def wait_applied(self, conversation_id: str, version: int, timeout: float) -> bool:  # noqa: ASYNC109
        """Whether a session applied ``version`` (or a later one) within ``timeout`` seconds."""
        if self._applied.get(conversation_id, 0) >= version:
            return True
        event = trio.Event()
        waiters = self._waiters.setdefault(conversation_id, [])
        waiters.append((version, event))
        try:
            with trio.move_on_after(timeout):
                await event.wait()
        finally:
            if (version, event) in waiters:
                waiters.remove((version, event))
            if not waiters:
                self._waiters.pop(conversation_id, None)
        return event.is_set()

    # ------------------------------------------------------------------ tasks

    async def run(self) -> None:
        """Look-ups, and on PostgreSQL the LISTEN loop and the applied notices; until cancelled."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._look_up_loop)
            if self.shared:
                nursery.start_soon(self._listen_loop)
                nursery.start_soon(self._notice_loop)
            else:
                self.listening.set()

    async def _look_up_loop(self) -> None:
        while True:
            await self._lookup_news.wait()
            self._lookup_news = trio.Event()
            while self._lookups:
                conversation_id = next(iter(self._lookups))
                del self._lookups[conversation_id]
                if conversation_id not in self._subscribers:
                    continue
                try:
                    record = await trio.to_thread.run_sync(self.database.control, conversation_id, limiter=self.limiter)
                except Exception as exc:
                    log.warning("control look-up failed", extra={"error": type(exc).__name__, "detail": str(exc)[:200]})
                    await trio.sleep(1.0)
                    self._look_up(conversation_id)
                    continue
                if record is not None:
                    self._dispatch(record)
                for callback in self._looked_up.pop(conversation_id, ()):
                    callback()

    async def _notice_loop(self) -> None:
        while True:
            await self._notice_news.wait()
            self._notice_news = trio.Event()
            notices, self._notices = self._notices, []
            for conversation_id, version in notices:
                try:
                    await trio.to_thread.run_sync(
                        self.database.notify_applied, conversation_id, version, limiter=self.limiter
                    )
                except Exception as exc:
                    log.warning("applied notice failed", extra={"error": type(exc).__name__})

    async def _listen_loop(self) -> None:
        backoff = 0.5
        while True:
            try:
                listener = await trio.to_thread.run_sync(
                    self.database.listener,
                    [CONTROL_CHANNEL, APPLIED_CHANNEL, CONFIG_CHANNEL, WEBHOOK_CHANNEL],
                    limiter=self.limiter,
                )
            except Exception as exc:
                log.warning(
                    "cannot LISTEN for control requests", extra={"error": type(exc).__name__, "retry_in": backoff}
                )
                await trio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 0.5
            for conversation_id in list(self._subscribers):
                self._look_up(conversation_id)  # anything missed while not listening
            self.on_config()
            self.on_deliveries()
            self.listening.set()
            try:
                while True:
                    # Not abandoned on cancel: the wait is short, and no thread may outlive the server.
                    notices = await trio.to_thread.run_sync(listener.wait, self.listen_timeout)
                    for channel, payload in notices:
                        self._notified(channel, payload)
            except Exception as exc:
                log.warning("LISTEN connection lost; reconnecting", extra={"error": type(exc).__name__})
            finally:
                self.listening = trio.Event()
                with trio.CancelScope(shield=True):
                    await trio.to_thread.run_sync(listener.close)

    # ------------------------------------------------------------------ internals

    def _notified(self, channel: str, payload: str) -> None:
        if channel == CONFIG_CHANNEL:
            self.on_config()
            return
        if channel == WEBHOOK_CHANNEL:
            self.on_deliveries()
            return
        try:
            body = json.loads(payload)
            conversation_id, version = str(body["conversation"]), int(body["version"])
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed notification", extra={"channel": channel})
            return
        if channel == APPLIED_CHANNEL:
            self._wake_waiters(conversation_id, version)
        elif channel == CONTROL_CHANNEL and conversation_id in self._subscribers:
            self._look_up(conversation_id)

    def _look_up(self, conversation_id: str) -> None:
        self._lookups[conversation_id] = None
        self._lookup_news.set()

    def _dispatch(self, record: ControlRecord) -> None:
        for callback in list(self._subscribers.get(record.conversation_id, ())):
            try:
                callback(record)
            except Exception:
                log.exception("a session failed to apply a control request")

    def _wake_waiters(self, conversation_id: str, version: int) -> None:
        if version > self._applied.get(conversation_id, 0):
            self._applied[conversation_id] = version
            self._applied.move_to_end(conversation_id)
            while len(self._applied) > _RECENT_APPLIED:
                self._applied.popitem(last=False)
        for wanted, event in self._waiters.get(conversation_id, ()):
            if version >= wanted:
                event.set()
