"""Migration 0002: the webhook tables on top of a 0001 store that already holds transcripts."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from connector.store import Database
from connector.store.database import alembic_config
from connector.store.schema import metadata

from .kit import delivery, session, utterance

WEBHOOK_TABLES = {"webhook_subscriptions", "webhook_deliveries", "phrase_rules"}


def test_0002_is_the_head_after_0001() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == ["0002"]
    assert [revision.revision for revision in script.walk_revisions()] == ["0002", "0001"]


def test_upgrade_from_0001_keeps_the_transcripts(url: str) -> None:
    database = Database(url)
    try:
        with database.engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0001")
        assert database.current_revision() == "0001"
        assert WEBHOOK_TABLES.isdisjoint(inspect(database.engine).get_table_names())
        database.write([session()], [utterance("u1")])

        database.migrate()

        assert database.current_revision() == "0002"
        assert set(inspect(database.engine).get_table_names()) >= WEBHOOK_TABLES
        conversation = database.conversation("c1")
        assert conversation is not None and [u.utterance_id for u in conversation.utterances] == ["u1"]
        database.write([session()], [utterance("u2")], [delivery("d1")])
        assert database.pending_count() == 1
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        database.close()


def test_downgrade_to_0001_drops_only_the_webhook_tables(db: Database) -> None:
    db.write([session()], [utterance("u1")], [delivery("d1")])
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0001")
    assert db.current_revision() == "0001"
    tables = set(inspect(db.engine).get_table_names())
    assert WEBHOOK_TABLES.isdisjoint(tables)
    assert {"sessions", "utterances", "controls", "nonces"} <= tables
    assert db.conversation("c1") is not None
