"""Store URLs: the two backends we ship drivers for, and a clear error for anything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.envparse import ConfigError
from connector.store import Database, StoreConfigError, engine_url


def test_sqlite_relative_and_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = engine_url("sqlite:///data/store.db")
    assert relative.drivername == "sqlite+pysqlite"
    assert relative.database == "data/store.db"
    assert (tmp_path / "data").is_dir()

    absolute = engine_url(f"sqlite:///{tmp_path}/deep/er/store.db")
    assert absolute.drivername == "sqlite+pysqlite"
    assert absolute.database == f"{tmp_path}/deep/er/store.db"
    assert (tmp_path / "deep" / "er").is_dir()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p@db.example:5432/connector",
        "postgres://u:p@db.example:5432/connector",
        "postgresql+psycopg://u:p@db.example:5432/connector",
    ],
)
def test_postgres_schemes_use_psycopg(url: str) -> None:
    parsed = engine_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.host, parsed.port, parsed.database, parsed.username) == ("db.example", 5432, "connector", "u")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://u:secret-pw@db/x", "unsupported scheme 'mysql'"),
        ("postgresql+asyncpg://u:secret-pw@db/x", "unsupported scheme"),
        ("http://example.com", "unsupported scheme 'http'"),
        ("not a url", "not a database URL"),
        ("", "not a database URL"),
        ("sqlite://", "SQLite needs a file"),
        ("sqlite:///:memory:", "SQLite needs a file"),
        ("sqlite://host/file.db", "no host part"),
    ],
)
def test_bad_urls_are_config_errors(url: str, words: str) -> None:
    with pytest.raises(StoreConfigError, match=words) as caught:
        engine_url(url)
    assert isinstance(caught.value, ConfigError)
    assert "secret-pw" not in str(caught.value)


def test_database_rejects_a_bad_url_before_connecting() -> None:
    with pytest.raises(StoreConfigError):
        Database("mssql://sa:pw@localhost/db")


def test_backend_names(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    try:
        assert database.backend == "sqlite"
    finally:
        database.close()
