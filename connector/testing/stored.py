"""A real server with the transcript store and the control API, on 127.0.0.1 port 0, for tests.

    async with trio.open_nursery() as nursery:
        stored = await start_stored_server(nursery, "sqlite:///.../store.db")
        ...  # calls to stored.running.port, API requests to stored.api_url with stored.headers
        nursery.cancel_scope.cancel()

The store and the API are the ones ``audiohook-connector serve`` runs (:class:`connector.api.ApiService`),
with the scripted engine (or yours) and one token holding both scopes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import trio

from connector.api import ApiService, ApiSettings, ApiToken, Scope, start_check
from connector.asr import EngineFactory, EngineRegistry
from connector.observe import NullObserver, Observer
from connector.store.service import StoreService
from connector.store.settings import StoreSettings
from connector.testing.scripted_engine import ScriptedEngine
from connector.testing.server import RunningServer, start_server

__all__ = ["API_TOKEN", "StoredServer", "start_stored_server"]

API_TOKEN = "test-api-token-0123456789abcdef"  # noqa: S105 - a test credential


@dataclass
class StoredServer:
    running: RunningServer
    store: StoreService
    api: ApiService

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_TOKEN}"}


async def start_stored_server(
    nursery: trio.Nursery,
    url: str,
    engine: EngineFactory | None = None,
    *,
    observer: Observer | None = None,
    replica: str = "test",
    **overrides: Any,
) -> StoredServer:
    """:func:`~connector.testing.server.start_server` with a store at ``url`` and the control API."""
    store = StoreService(StoreSettings(url=url, retention_days=0, progress_every=1.0, replica=replica),
                         observer or NullObserver())  # fmt: skip
    engine = engine or ScriptedEngine()
    api = ApiService(
        ApiSettings(host="127.0.0.1", port=0, tokens=(ApiToken(API_TOKEN, frozenset(Scope)),)),
        store,
        check_start=start_check(EngineRegistry([engine], engine.name)),
    )
    kwargs = {"store": store, "services": (store,), "background": (store.run, api.run)}
    running = await start_server(nursery, engine, server_kwargs=kwargs, **overrides)
    with trio.fail_after(10):
        await api.ready.wait()
    return StoredServer(running, store, api)
