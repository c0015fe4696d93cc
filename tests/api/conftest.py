"""Fixtures: a migrated SQLite store in the test's directory, the stand-in hub, the API on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trio

from connector.store import Database
from tests.api.kit import Api, Hub, running_api


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    store = Database(f"sqlite:///{tmp_path}/store.db")
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def hub() -> Hub:
    return Hub()


@pytest.fixture
async def api(nursery: trio.Nursery, database: Database, hub: Hub) -> AsyncIterator[Api]:
    async with running_api(nursery, database, hub) as running:
        yield running
