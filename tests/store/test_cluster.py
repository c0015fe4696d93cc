"""The throw-away PostgreSQL of the tests: found or clearly missing, local only, gone after stop."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from connector.testing import postgres
from connector.testing.postgres import PostgresCluster, PostgresUnavailable


def test_missing_binaries_are_postgres_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(postgres, "_DEBIAN_ROOT", tmp_path / "nothing")
    with pytest.raises(PostgresUnavailable, match="apt-get install postgresql"):
        PostgresCluster().start()


def test_newest_debian_version_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for version in ("9.6", "16", "15"):
        directory = tmp_path / version / "bin"
        directory.mkdir(parents=True)
        for name in ("initdb", "pg_ctl"):
            (directory / name).touch()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(postgres, "_DEBIAN_ROOT", tmp_path)
    assert postgres.find_postgres_bin() == tmp_path / "16" / "bin"


def test_a_cluster_is_local_and_leaves_nothing_behind(postgres_cluster: PostgresCluster) -> None:
    """(The session's cluster proves the binaries are there; this one is started and stopped on its own.)"""
    cluster = PostgresCluster(database="other")
    with cluster:
        root = cluster._root
        assert root is not None and root.is_dir()
        assert cluster.url.startswith("postgresql://postgres@127.0.0.1:") and cluster.url.endswith("/other")
        with psycopg.connect(cluster.url) as connection:
            row = connection.execute("SHOW listen_addresses").fetchone()
            assert row == ("127.0.0.1",)
            assert connection.execute("SHOW fsync").fetchone() == ("off",)
    assert not root.exists()
    cluster.stop()  # a second stop is a no-op
    with pytest.raises(RuntimeError, match="not running"):
        _ = cluster.url
