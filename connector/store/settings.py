"""The store's settings from the environment (every variable is in docs/configuration.md)."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from ..envparse import EnvReader

__all__ = ["DEFAULT_STORE_URL", "StoreSettings"]

DEFAULT_STORE_URL = "sqlite:///data/connector.db"
"""An SQLite file under the working directory: nothing to set up (the container points it at its volume)."""

_OFF = ("off", "none", "false", "0")


@dataclass(frozen=True)
class StoreSettings:
    url: str | None = DEFAULT_STORE_URL
    """``None``: no store (transcripts only go back to Genesys, and there is no control API)."""
    retention_days: float = 30.0
    """Conversations older than this are purged in the background (0: kept for ever)."""
    max_spool: int = 50_000
    batch_size: int = 500
    batch_delay: float = 0.1
    """Seconds records gather before a write (fewer, larger transactions)."""
    threads: int = 4
    """Worker threads for database calls (their own limiter: the engines' threads are never taken)."""
    progress_every: float = 10.0
    replica: str = ""
    migrate: bool = True
    """Apply migrations at start-up (``CONNECTOR_STORE_MIGRATE=false`` leaves it to ``audiohook-connector migrate``)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str], read: EnvReader | None = None) -> StoreSettings:
        """Read the ``CONNECTOR_STORE_*`` variables; with ``read`` given, problems are collected there."""
        own = read is None
        read = read or EnvReader(env, collect=True)
        default = cls()
        url = read.secret("CONNECTOR_STORE_URL") or default.url
        settings = cls(
            url=None if url is None or url.strip().lower() in _OFF else url.strip(),
            retention_days=read.number("CONNECTOR_RETENTION_DAYS", default.retention_days, low=0),
            max_spool=read.integer("CONNECTOR_STORE_SPOOL", default.max_spool, low=1),
            batch_size=read.integer("CONNECTOR_STORE_BATCH", default.batch_size, low=1),
            batch_delay=read.number("CONNECTOR_STORE_BATCH_DELAY", default.batch_delay, low=0, high=5),
            threads=read.integer("CONNECTOR_STORE_THREADS", default.threads, low=1),
            progress_every=read.number("CONNECTOR_STORE_PROGRESS_EVERY", default.progress_every, above=0),
            replica=read.text("CONNECTOR_REPLICA_ID", f"{socket.gethostname()}-{os.getpid()}"),
            migrate=read.flag("CONNECTOR_STORE_MIGRATE", default.migrate),
        )
        if own:
            read.raise_problems()
        return settings
