"""The control API's test kit: tokens, a recording hub, records, and a real server on port 0.

The store is always the real :class:`connector.store.Database` on a SQLite file; the hub is a
small in-process stand-in for :class:`connector.store.controls.ControlHub` that records what it
is told and answers ``wait_applied`` with a chosen value, at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx2
import trio
from fastapi import FastAPI

from connector.api import ApiSettings, ControlRequests, ConversationStore, create_app, serve_api
from connector.store import ControlRecord, SessionRecord, TranslationRecord, UtteranceRecord, WordRecord

READ = "read-token-0123456789abcdef"
CONTROL = "control-token-0123456789abcdef"
BOTH = "both-token-0123456789abcdef"
ENV = {
    "CONNECTOR_API_HOST": "127.0.0.1",
    "CONNECTOR_API_PORT": "0",
    "CONNECTOR_API_TOKENS": f"read:{READ},control:{CONTROL},read+control:{BOTH}",
}

CID = "6b1f7a8e-3c1d-4e5f-9a0b-1c2d3e4f5a6b"
"""A conversation id (a UUID, as Genesys gives them)."""
T0 = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Hub:
    """Implements :class:`~connector.api.ControlRequests`: records requests and waits, answers ``applied``."""

    def __init__(self, applied: bool = False) -> None:
        self.applied = applied
        self.requests: list[ControlRecord] = []
        self.waits: list[tuple[str, int, float]] = []

    async def requested(self, record: ControlRecord) -> None:
        self.requests.append(record)

    async def wait_applied(self, conversation_id: str, version: int, timeout: float) -> bool:  # noqa: ASYNC109
        self.waits.append((conversation_id, version, timeout))
        return self.applied


def session(session_id: str = "s1", conversation_id: str = CID, **changes: Any) -> SessionRecord:
    record = SessionRecord(
        session_id=session_id,
        conversation_id=conversation_id,
        organization_id="d7934305-0972-4844-938e-9060eef73d05",
        correlation_id=f"corr-{session_id}",
        started_at=T0,
        participant={"id": "p-1", "ani": "+15550000000", "dnis": "+15550000001"},
        channels=("external", "internal"),
        media_format="PCMU",
        language="en-US",
        engine="local",
        replica="replica-a",
        transcribing=True,
        control_version=0,
        audio_seconds=30.5,
        transcribed_seconds=28.25,
        transcripts=2,
        updated_at=datetime.now(UTC),  # a live session's replica updates its row every few seconds
    )
    return replace(record, **changes)


def utterance(utterance_id: str, session_id: str = "s1", conversation_id: str = CID, **changes: Any) -> UtteranceRecord:
    record = UtteranceRecord(
        session_id=session_id,
        conversation_id=conversation_id,
        utterance_id=utterance_id,
        channel=0,
        role="external",
        offset=1.5,
        duration=0.75,
        text="hello, I would like to check my balance",
        confidence=0.875,
        language="en-US",
        sent_at=at(2),
        words=(
            WordRecord(value="hello", offset=1.5, duration=0.25, confidence=0.9),
            WordRecord(value="balance", offset=2.0, duration=0.25, confidence=0.75),
        ),
        translation=None,
        engine="local",
    )
    return replace(record, **changes)


def translated(record: UtteranceRecord) -> UtteranceRecord:
    return replace(record, translation=TranslationRecord(text="bonjour", language="fr-FR"))


@dataclass
class Api:
    client: httpx2.AsyncClient
    port: int
    app: FastAPI

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@asynccontextmanager
async def running_api(
    nursery: trio.Nursery,
    store: ConversationStore,
    hub: ControlRequests,
    env: Mapping[str, str] | None = None,
    prepare: Callable[[FastAPI], None] | None = None,
) -> AsyncIterator[Api]:
    """The API on 127.0.0.1, port 0, served by :func:`serve_api` in ``nursery``; stopped on exit."""
    settings = ApiSettings.from_env({**ENV, **(env or {})})
    app = create_app(store, hub, settings, trio.CapacityLimiter(4))
    if prepare is not None:
        prepare(app)
    shutdown = trio.Event()
    with trio.fail_after(10):
        port: int = await nursery.start(partial(serve_api, app, settings, shutdown=shutdown))
    try:
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield Api(client=client, port=port, app=app)
    finally:
        shutdown.set()
