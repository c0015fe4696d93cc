"""What every part of :class:`connector.store.Database` shares: the engine, one transaction per
call, the dialect's ``INSERT`` (for ``ON CONFLICT``) and ``pg_notify``.

:class:`Database` (:mod:`connector.store.database`) builds the engine; the webhook parts
(:mod:`connector.store.deliveries`, :mod:`connector.store.subscriptions`) are mixins over this
base, so each module stays short and all of them run their SQL the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Literal

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

__all__ = ["WRITE", "Backend", "StoreBase", "aware"]

Backend = Literal["sqlite", "postgresql"]

WRITE = "connector_write"
"""Execution option: SQLite begins this transaction ``IMMEDIATE`` (see ``database._sqlite_begin``)."""


def aware(value: datetime, name: str) -> datetime:
    """``value`` if it is timezone-aware; a ``ValueError`` naming the argument otherwise."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value


class StoreBase:
    """The engine and the helpers the store's methods run their SQL with."""

    _engine: Engine
    _backend: Backend

    @contextmanager
    def _transaction(self, *, write: bool = False) -> Iterator[Connection]:
        with self._engine.connect() as connection:
            if write:
                connection.execution_options(**{WRITE: True})
            with connection.begin():
                yield connection

    def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        return postgresql.insert(table) if self._backend == "postgresql" else sqlite.insert(table)

    def _signal(self, connection: Connection, channel: str, payload: str = "") -> None:
        """``pg_notify(channel, payload)`` in ``connection``'s transaction: delivered to listeners
        when it commits, not at all if it rolls back (PostgreSQL; a no-op on SQLite)."""
        if self._backend == "postgresql":
            connection.execute(select(func.pg_notify(channel, payload)))
