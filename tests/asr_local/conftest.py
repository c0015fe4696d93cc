"""Fixtures for the embedded engine's tests: one tiny.en model per test session.

Loading a model takes ~0.5 s and every test needs one, so the engine is started once (in its
own short ``trio.run``) and shared; each test then creates fresh recognizers in its own trio
run, exactly as server sessions do. Tests that synthesise speech need espeak-ng
(``apt-get install espeak-ng``): without it they skip on a developer machine and fail under CI
(``tests/conftest.py`` turns :class:`connector.testing.speech.SpeechUnavailable` into that);
tests that need no speech run either way.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio

from connector.asr.local import LocalEngine, create_engine

TEST_ENV = {
    "LOCAL_MODEL": "tiny.en",
    "LOCAL_THREADS": "2",
    "LOCAL_PARTIAL_INTERVAL": "1.0",
    "CONNECTOR_SEND_PARTIALS": "true",
}


@pytest.fixture(scope="session")
def local_engine() -> Iterator[LocalEngine]:
    engine = create_engine(TEST_ENV)
    trio.run(engine.start)
    yield engine
    trio.run(engine.aclose)


@pytest.fixture(scope="session")
def base_engine() -> Iterator[LocalEngine]:
    """The product's default model with the default settings (loaded once, ~2 s)."""
    engine = create_engine({"LOCAL_MODEL": "base", "LOCAL_THREADS": "2", "CONNECTOR_SEND_PARTIALS": "false"})
    trio.run(engine.start)
    yield engine
    trio.run(engine.aclose)
