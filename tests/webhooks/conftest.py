"""Webhook fixtures: a migrated SQLite store, real receivers on 127.0.0.1 and a throw-away PKI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from connector.store import Database

from .certs import Pki, make_pki
from .receiver import Receiver

MakeReceiver = Callable[..., Awaitable[Receiver]]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/store.db")
    database.migrate()
    yield database
    database.close()


@pytest.fixture
def receivers(nursery: trio.Nursery) -> MakeReceiver:
    """``await receivers(**options)``: a started :class:`Receiver` (stopped with the test)."""

    async def make(**options: Any) -> Receiver:
        return await Receiver(**options).start(nursery)

    return make


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))
