"""The fake AudioHook server fixture of the simulator's tests (see ``fake_server.py``)."""

from __future__ import annotations

import pytest
import trio
from trio_websocket import serve_websocket

from tests.simulator.fake_server import FakeServer


@pytest.fixture
async def fake(nursery: trio.Nursery) -> FakeServer:
    server = FakeServer()
    ws_server = await nursery.start(serve_websocket, server.handle, "127.0.0.1", 0, None)
    server.url = f"ws://127.0.0.1:{ws_server.port}/audiohook"
    return server
