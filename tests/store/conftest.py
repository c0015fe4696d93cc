"""Store fixtures: every store test runs on a SQLite file and on a real, throw-away PostgreSQL.

One PostgreSQL cluster serves the whole session (:class:`connector.testing.postgres.PostgresCluster`);
each test gets a database of its own (``CREATE DATABASE`` from ``template0``, dropped after).
Without PostgreSQL's binaries the PostgreSQL half is skipped here and fails under CI.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.store import Database
from connector.testing.postgres import PostgresCluster, PostgresUnavailable
from connector.testing.skips import skip_or_fail

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.start()
    except PostgresUnavailable as error:
        skip_or_fail(str(error))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh, empty database on the session's cluster."""
    name = f"test_{next(_numbers)}"
    url = postgres_cluster.create_database(name)
    yield url
    postgres_cluster.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/store.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str:
    """An empty store on each backend in turn."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    value: str = request.getfixturevalue(name)
    return value


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    """A migrated store on each backend in turn."""
    database = Database(url)
    database.migrate()
    yield database
    database.close()


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Database]:
    """A migrated store on PostgreSQL only."""
    database = Database(postgres_url)
    database.migrate()
    yield database
    database.close()
