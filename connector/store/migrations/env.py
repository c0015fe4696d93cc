"""Alembic's environment: run the migrations on the connection :meth:`Database.migrate` opened.

Online only: the caller holds the connection (and on PostgreSQL the advisory lock) and owns the
transaction, so a migration commits or rolls back as one unit with the lock released after it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from connector.store.schema import metadata


def _run() -> None:
    if context.is_offline_mode():
        raise RuntimeError("the store's migrations run online only, through connector.store.Database.migrate")
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run the store's migrations through connector.store.Database.migrate (no connection given)")
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


_run()
