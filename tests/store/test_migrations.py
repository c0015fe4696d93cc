"""Migrations: from empty to head, idempotent, concurrent, and equal to ``schema.metadata``."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, Table, Text, func, inspect, select, text

from connector.store import Database
from connector.store.database import MIGRATION_LOCK, alembic_config
from connector.store.schema import metadata

HEAD = "0002"
TABLES = {"sessions", "utterances", "controls", "nonces", "webhook_subscriptions", "webhook_deliveries", "phrase_rules"}
REPO = Path(__file__).resolve().parents[2]
CHILD = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(message)s")
from connector.store import Database
database = Database(sys.argv[1])
database.migrate()
print(database.current_revision())
database.close()
"""


def test_migrate_from_empty_then_again(url: str) -> None:
    database = Database(url)
    try:
        assert database.current_revision() is None
        assert TABLES.isdisjoint(inspect(database.engine).get_table_names())
        database.migrate()
        assert database.current_revision() == HEAD
        assert TABLES | {"alembic_version"} <= set(inspect(database.engine).get_table_names())
        database.migrate()  # a no-op
        assert database.current_revision() == HEAD
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        database.close()


def test_one_head_revision() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [HEAD]
    assert [revision.revision for revision in script.walk_revisions()] == [HEAD, "0001"]


def test_migrated_database_matches_the_schema_module(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        # The comparison does notice a difference: a table the database lacks.
        other = MetaData()
        for table in metadata.tables.values():
            table.to_metadata(other)
        Table("extra", other, Column("x", Text, primary_key=True))
        assert [diff[0] for diff in compare_metadata(context, other)] == ["add_table"]


def test_threads_migrating_at_once(url: str) -> None:
    databases = [Database(url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(len(databases)) as pool:
            list(pool.map(Database.migrate, databases))
        assert {database.current_revision() for database in databases} == {HEAD}
    finally:
        for database in databases:
            database.close()


def _spawn(url: str, count: int) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, url], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(count)
    ]


def _finish(children: list[subprocess.Popen[str]]) -> list[str]:
    logs = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert out.strip() == HEAD
        logs.append(err)
    return logs


def test_processes_migrating_at_once(url: str) -> None:
    logs = _finish(_spawn(url, 3))
    assert sum("Running upgrade  -> 0001" in log for log in logs) == 1


def test_postgres_replicas_wait_for_the_advisory_lock(postgres_url: str) -> None:
    """Three processes queue on the lock together; when it is released exactly one migrates."""
    holder = Database(postgres_url)
    try:
        with holder.engine.connect() as connection, holder.engine.connect() as observer:
            connection.execute(select(func.pg_advisory_lock(MIGRATION_LOCK)))
            connection.commit()
            children = _spawn(postgres_url, 3)
            try:
                deadline = time.monotonic() + 60
                waiting = 0
                while waiting < 3 and time.monotonic() < deadline:
                    waiting = observer.execute(
                        text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                    ).scalar_one()
                    observer.rollback()
                    time.sleep(0.02)  # polling for a condition, bounded by the deadline
                assert waiting == 3
                assert holder.current_revision() is None
            finally:
                connection.execute(select(func.pg_advisory_unlock(MIGRATION_LOCK)))
                connection.commit()
        logs = _finish(children)
        assert sum("Running upgrade  -> 0001" in log for log in logs) == 1
        assert holder.current_revision() == HEAD
    finally:
        holder.close()
