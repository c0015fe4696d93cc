"""Fixtures shared by the cloud engines' and translators' tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cloud.fake_gemini import FakeGemini


@pytest.fixture
def gemini_server() -> Iterator[FakeGemini]:
    """Gemini's HTTP API, faked on 127.0.0.1 (the official SDK talks to it)."""
    server = FakeGemini()
    http = server.start()
    yield server
    http.stop()
