"""The embedded engine served for real, in this process: its own start (model load) and stop, and a drain
that ends calls while decodes are running in worker threads.

:mod:`tests.asr_local.test_through_server` shares one loaded model between tests and makes the
server's start and stop of it no-ops; here each server loads ``tiny.en`` itself and closes it. The
server's worker-thread limiter is watched, so a test knows a decode is running when it acts: the
drain's timeout, a client that never answers ``disconnect``, and a stop-now cancellation (what the
second signal does) each land with at least one decode in a worker thread, and each must end with
no session, task or thread left behind and the engine closed.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import trio

from connector.asr.local import create_engine
from connector.server import ConnectorServer
from connector.testing.drive import assert_threads_settle
from connector.testing.server import RunningServer, live_connector_tasks, start_server
from tests.asr_local.conftest import TEST_ENV
from tests.server.test_signals_local import every_heard_sentence_finalised, live_call

pytestmark = pytest.mark.usefixtures("speech_ready")


class WatchedLimiter:
    """The server's worker-thread limiter, telling the test when a decode takes a worker thread."""

    def __init__(self, tokens: int) -> None:
        self.inner = trio.CapacityLimiter(tokens)
        self.decoding = trio.Event()

    async def acquire_on_behalf_of(self, borrower: object) -> None:
        await self.inner.acquire_on_behalf_of(borrower)
        self.decoding.set()

    def release_on_behalf_of(self, borrower: object) -> None:
        self.inner.release_on_behalf_of(borrower)

    def __getattr__(self, name: str) -> Any:  # available_tokens, borrowed_tokens, statistics()
        return getattr(self.inner, name)

    async def next_decode(self) -> None:
        """Return once a decode holds a worker thread (one starting after this call)."""
        self.decoding = trio.Event()
        with trio.fail_after(20):
            await self.decoding.wait()


def in_flight_at_shutdown(server: ConnectorServer, limiter: WatchedLimiter) -> list[int]:
    """Worker threads busy at the moment the drain asks sessions to end (filled when it does)."""
    seen: list[int] = []
    server._sessions_shutdown.subscribe(lambda: seen.append(limiter.borrowed_tokens))
    return seen


class Served:
    """A server loading its own ``tiny.en``, run in its own cancel scope; :attr:`stopped` once ``serve()`` returned."""

    def __init__(self) -> None:
        self.scope = trio.CancelScope()
        self.stopped = trio.Event()
        self.engine = create_engine({**TEST_ENV, "LOCAL_THREADS": "1", "LOCAL_PARTIAL_INTERVAL": "0.5"})
        self.limiter = WatchedLimiter(2)

    async def run(self, overrides: dict[str, Any], *, task_status: trio.TaskStatus[RunningServer]) -> None:
        try:
            with self.scope:
                async with trio.open_nursery() as nursery:
                    with trio.fail_after(60):  # the real start: load, checksum and warm up the model
                        running = await start_server(
                            nursery, self.engine, server_kwargs={"limiter": self.limiter}, **overrides
                        )
                    assert self.engine.model is not None
                    task_status.started(running)
        finally:
            self.stopped.set()

    async def wait_stopped(self, limit: float) -> None:
        with trio.fail_after(limit):
            await self.stopped.wait()


async def serve_local(nursery: trio.Nursery, **overrides: Any) -> tuple[Served, RunningServer]:
    served = Served()
    running: RunningServer = await nursery.start(served.run, overrides)
    return served, running


def assert_stopped_clean(running: RunningServer, served: Served, before: set[threading.Thread]) -> None:
    server = running.server
    assert served.stopped.is_set()
    assert served.engine.model is None  # the server's stop closed the engine
    assert server.stats.sessions_active == 0 and server.connections == 0
    assert server.limiter.borrowed_tokens == 0, "a decode still holds a worker thread"
    assert live_connector_tasks() == []
    assert_threads_settle(before)


async def test_drain_timeout_ends_a_call_mid_decode_with_its_finals(nursery: trio.Nursery) -> None:
    before = set(threading.enumerate())
    served, running = await serve_local(nursery, drain_timeout=0.0)
    busy = in_flight_at_shutdown(running.server, served.limiter)
    async with live_call(running.port) as call:
        await call.streamed(1.6)  # the drain ends sentences 1.6 s in, or more
        await served.limiter.next_decode()
        running.server.request_stop()
        with trio.fail_after(20):
            await call.disconnect.wait()
            await call.closed.wait()
        assert not call.streamed_all
    await served.wait_stopped(20)  # drained, listeners closed, engine stopped
    assert busy and busy[0] >= 1, "no decode was running when the drain ended the call"
    disconnect = next(m for m in call.client.received if m["type"] == "disconnect")
    assert disconnect["parameters"]["reason"] == "completed"
    assert running.server.stats.outcomes == {"disconnected": 1}
    assert_stopped_clean(running, served, before)
    every_heard_sentence_finalised(call)


async def test_a_client_that_ignores_disconnect_is_dropped_mid_decode(nursery: trio.Nursery) -> None:
    before = set(threading.enumerate())
    served, running = await serve_local(nursery, drain_timeout=0.0, close_timeout=0.5)
    busy = in_flight_at_shutdown(running.server, served.limiter)
    async with live_call(running.port) as call:
        call.answer_disconnect = False
        await served.limiter.next_decode()
        running.server.request_stop()
        with trio.fail_after(20):  # close_timeout, then the session is cancelled and the socket closed
            await call.lost.wait()
    await served.wait_stopped(20)
    assert busy and busy[0] >= 1
    assert call.disconnect.is_set() and not call.closed.is_set()
    assert running.server.stats.outcomes == {"disconnected": 1}
    assert_stopped_clean(running, served, before)


async def test_stop_now_cancels_decodes_and_still_closes_everything(nursery: trio.Nursery) -> None:
    """What the second signal does: cancel the server mid-drain with decodes in worker threads."""
    before = set(threading.enumerate())
    served, running = await serve_local(nursery, drain_timeout=60.0)
    async with live_call(running.port) as call:
        running.server.request_stop()
        await served.limiter.next_decode()
        assert served.limiter.borrowed_tokens >= 1
        served.scope.cancel()
        await served.wait_stopped(5)  # a decode step and the shielded closes: not the 60 s drain
        with trio.fail_after(5):
            await call.lost.wait()
    assert not call.closed.is_set() and not call.disconnect.is_set()
    assert_stopped_clean(running, served, before)
