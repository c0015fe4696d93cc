"""A real connector server on 127.0.0.1, port 0, for tests: with the scripted engine or yours.

    async with trio.open_nursery() as nursery:
        running = await start_server(nursery, MyEngine())   # bound and listening
        ...                                                   # connect to running.port
        await assert_nothing_left(running)                    # no session, task or thread left behind
        nursery.cancel_scope.cancel()

Clients authenticate with API key ``test-key`` and :data:`TEST_SECRET` (signed requests) or
``open-key`` (no secret). ``tests/conftest.py`` wraps :func:`start_server` as pytest fixtures.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import trio

from connector.asr import EngineFactory, EngineRegistry
from connector.config import Settings
from connector.nursery import SessionLimits
from connector.security import ApiKey
from connector.server import ConnectorServer
from connector.testing.scripted_engine import ScriptedEngine

__all__ = [
    "TEST_SECRET",
    "TEST_SECRET_BYTES",
    "RunningServer",
    "StartServer",
    "assert_nothing_left",
    "live_connector_tasks",
    "start_server",
]

TEST_SECRET_BYTES = b"test-secret-0123456789-abcdefgh"
TEST_SECRET = base64.b64encode(TEST_SECRET_BYTES).decode()


@dataclass
class RunningServer:
    server: ConnectorServer
    port: int
    engine: Any
    """The engine passed in (an :class:`EngineFactory`; ``Any`` so a test can reach its own knobs)."""

    async def idle(self, limit: float = 15) -> None:
        with trio.fail_after(limit):
            await self.server.wait_idle()


def live_connector_tasks() -> list[str]:
    """Names of running tasks that belong to sessions or connections (should be none at rest)."""
    names: list[str] = []

    def walk(task: trio.lowlevel.Task) -> None:
        names.append(task.name)
        for nursery in task.child_nurseries:
            for child in nursery.child_tasks:
                walk(child)

    root = trio.lowlevel.current_root_task()
    if root is not None:
        walk(root)
    return [n for n in names if "connector.nursery" in n or "_handle_connection" in n or "_reader_task" in n]


async def assert_nothing_left(running: RunningServer) -> None:
    """Once idle: no session, no connection, no busy worker thread, no session or connection task."""
    await running.idle()
    assert running.server.stats.sessions_active == 0
    assert running.server.connections == 0
    assert running.server.limiter.borrowed_tokens == 0, "a worker thread is still busy"
    assert live_connector_tasks() == []


StartServer = Callable[..., Awaitable[RunningServer]]


async def start_server(nursery: trio.Nursery, engine: EngineFactory | None = None, **overrides: Any) -> RunningServer:
    """Serve ``engine`` (default a fresh :class:`ScriptedEngine`) in ``nursery`` on an ephemeral port.

    ``overrides`` are :class:`Settings` fields or :class:`SessionLimits` fields (event batching is
    off unless set); ``server_kwargs`` is passed to :class:`ConnectorServer`.
    """
    engine = engine or ScriptedEngine()
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "api_keys": (ApiKey("test-key", TEST_SECRET_BYTES), ApiKey("open-key", None)),
        "engines": (engine.name,),
        "default_engine": engine.name,
        "worker_threads": 2,
    }
    options.update(overrides)
    server_kwargs = options.pop("server_kwargs", {})
    limit_names = {f.name for f in dataclasses.fields(SessionLimits)}
    limits: dict[str, Any] = {"event_batch_threshold": 0}
    limits.update({k: options.pop(k) for k in list(options) if k in limit_names})
    settings = Settings(**options, limits=SessionLimits(**limits))
    server = ConnectorServer(settings, EngineRegistry([engine], engine.name), **server_kwargs)
    port: int = await nursery.start(server.serve)
    return RunningServer(server, port, engine)
