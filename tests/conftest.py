"""Shared fixtures: a real server on 127.0.0.1, port 0, with the scripted engine by default.

The harness itself is :mod:`connector.testing.server`; this file is the pytest glue.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from typing import Any

import pytest
import trio

from connector.asr import EngineFactory
from connector.testing.server import RunningServer, StartServer
from connector.testing.server import start_server as serve
from connector.testing.skips import skip_or_fail
from connector.testing.speech import SpeechUnavailable, espeak_available


@pytest.fixture
async def start_server(nursery: trio.Nursery) -> AsyncIterator[StartServer]:
    async def start(engine: EngineFactory | None = None, **overrides: Any) -> RunningServer:
        return await serve(nursery, engine, **overrides)

    yield start


@pytest.fixture
async def running(start_server: StartServer) -> RunningServer:
    return await start_server()


def _speech_missing(error: BaseException) -> str | None:
    """Why, if ``error`` is espeak-ng missing (trio nurseries wrap it in an exception group)."""
    if isinstance(error, SpeechUnavailable):
        return str(error)
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            if (reason := _speech_missing(inner)) is not None:
                return reason
    return None


def _skipping_missing_speech() -> Generator[None, None, None]:
    """Run a test phase; espeak-ng missing becomes a skip here and a failure under CI."""
    try:
        return (yield)
    except BaseException as error:
        if (reason := _speech_missing(error)) is not None:
            skip_or_fail(reason)
        raise


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """A fixture that synthesises speech (``synthesize`` raises :class:`SpeechUnavailable`)."""
    return (yield from _skipping_missing_speech())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A test that synthesises speech."""
    return (yield from _skipping_missing_speech())


@pytest.fixture(scope="session")
def speech_ready() -> None:
    """Tests that synthesise speech need espeak-ng: skipped without it here, failed under CI.

    Ask for it only where speech is synthesised; a test that needs no speech must not depend on it."""
    if not espeak_available():
        skip_or_fail("espeak-ng is not installed (apt-get install -y espeak-ng)")
