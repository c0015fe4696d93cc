"""Which database a store URL names, as the SQLAlchemy URL of the one driver we ship for it.

Operators write the URL they know (``sqlite:///data/transcripts.db``, ``postgres://...``); the
store always talks to SQLite through the standard library's ``sqlite3`` and to PostgreSQL through
psycopg 3 (the ``psycopg[binary]`` dependency), so the scheme is rewritten here once rather than
asking every deployment to spell ``postgresql+psycopg``. A wrong URL is a :class:`StoreConfigError`
at start-up, whose message never repeats a password.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy
from sqlalchemy.exc import ArgumentError

from connector.envparse import ConfigError

__all__ = ["StoreConfigError", "engine_url"]

_SQLITE = frozenset({"sqlite", "sqlite+pysqlite"})
_POSTGRES = frozenset({"postgresql", "postgres", "postgresql+psycopg"})
_EXAMPLES = "sqlite:///relative/path.db, sqlite:////absolute/path.db or postgresql://user:password@host:5432/database"


class StoreConfigError(ConfigError):
    """The store's URL is unusable (unknown scheme, in-memory SQLite, unparsable)."""


def engine_url(url: str) -> sqlalchemy.URL:
    """The SQLAlchemy URL for ``url``: ``sqlite+pysqlite`` or ``postgresql+psycopg``.

    For SQLite the file's parent directory is created, so a fresh volume works at first start."""
    try:
        parsed = sqlalchemy.make_url(url.strip())
    except ArgumentError:
        raise StoreConfigError(f"store URL is not a database URL; use {_EXAMPLES}") from None
    scheme = parsed.drivername.lower()
    if scheme in _SQLITE:
        return _sqlite(parsed)
    if scheme in _POSTGRES:
        return parsed.set(drivername="postgresql+psycopg")
    raise StoreConfigError(f"store URL: unsupported scheme {parsed.drivername!r}; use {_EXAMPLES}")


def _sqlite(parsed: sqlalchemy.URL) -> sqlalchemy.URL:
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise StoreConfigError(
            "store URL: SQLite needs a file (an in-memory database is lost at exit and not shared "
            f"between connections); use {_EXAMPLES}"
        )
    if parsed.host or parsed.username or parsed.port:
        raise StoreConfigError(f"store URL: a SQLite URL has no host part (three or four slashes); use {_EXAMPLES}")
    path = Path(database).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreConfigError(f"store URL: cannot create the directory of the SQLite file: {error}") from None
    return parsed.set(drivername="sqlite+pysqlite", database=str(path))
