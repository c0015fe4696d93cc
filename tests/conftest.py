"""Shared fixtures: a real server on 127.0.0.1, port 0, with the scripted engine by default."""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import trio

from connector.asr import EngineRegistry
from connector.config import Settings
from connector.nursery import SessionLimits
from connector.security import ApiKey
from connector.server import ConnectorServer
from tests.scripted_engine import ScriptedEngine
from tests.speech import espeak_available

TEST_SECRET_BYTES = b"test-secret-0123456789-abcdefgh"
TEST_SECRET = base64.b64encode(TEST_SECRET_BYTES).decode()


@dataclass
class RunningServer:
    server: ConnectorServer
    port: int
    engine: Any

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

    walk(trio.lowlevel.current_root_task())
    return [n for n in names if "connector.nursery" in n or "_handle_connection" in n or "_reader_task" in n]


async def assert_nothing_left(running: RunningServer) -> None:
    await running.idle()
    assert running.server.stats.sessions_active == 0
    assert running.server.connections == 0
    assert running.server.limiter.borrowed_tokens == 0, "a worker thread is still busy"
    assert live_connector_tasks() == []


StartServer = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
async def start_server(nursery: trio.Nursery) -> AsyncIterator[StartServer]:
    async def start(engine: Any = None, **overrides: Any) -> RunningServer:
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
        port = await nursery.start(server.serve)
        return RunningServer(server, port, engine)

    yield start


@pytest.fixture
async def running(start_server: StartServer) -> RunningServer:
    return await start_server()


@pytest.fixture(scope="session")
def speech_ready() -> None:
    """Tests that synthesise speech need espeak-ng: skipped without it here, failed under CI."""
    if not espeak_available():
        message = "espeak-ng is not installed (apt-get install -y espeak-ng)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
