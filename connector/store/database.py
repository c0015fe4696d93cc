"""The store's synchronous database layer: one :class:`Database` over SQLite or PostgreSQL.

The trio runtime calls it from worker threads, so it holds one SQLAlchemy engine with a pool and
each call is one short transaction on a connection of its own; nothing is kept between calls.
The SQL is SQLAlchemy Core over :mod:`connector.store.schema`, the same on both backends; the
only switches are SQLAlchemy's dialect ``insert`` (for ``ON CONFLICT``) and what exists on
PostgreSQL alone (the migration's advisory lock, ``pg_notify``, :class:`Listener`, and the
webhook claim's ``FOR UPDATE SKIP LOCKED``). The shared plumbing is :mod:`connector.store.base`.

SQLite runs in WAL mode (readers never wait for the writer) with ``synchronous=NORMAL``, a busy
timeout and foreign keys on. Its transactions are begun by us, not by ``sqlite3``: reads with
``BEGIN`` and writes with ``BEGIN IMMEDIATE``, so a writer takes the lock up front and waits for
it (busy timeout) instead of failing when a read-then-write transaction would have to upgrade.

Writes are idempotent, so a writer may retry a whole batch after an error: sessions are upserted
(a row with a newer ``updated_at`` is kept, a null ``updated_at`` orders before any time, and an
ended session is never made live again), utterances are inserted once per
``(session_id, utterance_id)``, webhook deliveries once per ``id`` (in the same transaction, so a
stored final always has its deliveries queued: :mod:`connector.store.deliveries`).

Listing (:meth:`Database.conversations`) is newest first, by when a conversation's first session
started, with an opaque keyset cursor. Export pages by ``(sent_at, id)`` with one query per
batch, so memory stays flat and the generator can be dropped at any point.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from psycopg import sql
from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.sql.expression import Executable

from connector.store import schema
from connector.store.base import WRITE, Backend, aware
from connector.store.deliveries import WEBHOOK_CHANNEL, DeliveryStore
from connector.store.records import (
    ControlRecord,
    ControlState,
    Conversation,
    ConversationPage,
    ConversationSummary,
    Delivery,
    SessionRecord,
    TranslationRecord,
    UtteranceRecord,
    WordRecord,
)
from connector.store.schema import UtcDateTime
from connector.store.subscriptions import CONFIG_CHANNEL, SubscriptionStore
from connector.store.urls import engine_url

__all__ = [
    "APPLIED_CHANNEL",
    "CONFIG_CHANNEL",
    "CONTROL_CHANNEL",
    "MIGRATION_LOCK",
    "WEBHOOK_CHANNEL",
    "Backend",
    "Database",
    "Listener",
    "ListenerLost",
    "alembic_config",
]

CONTROL_CHANNEL = "connector_control"
"""``put_control`` notifies here: ``{"conversation": id, "version": v}``."""
APPLIED_CHANNEL = "connector_applied"
"""``notify_applied`` notifies here, with the same payload."""

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 0x636F6E6E6563
"""The ``pg_advisory_xact_lock`` key :meth:`Database.migrate` holds: one migrator at a time across replicas."""
_migrating = threading.Lock()  # Alembic's `context` and `op` are process-wide proxies: one migration per process
_BUSY_TIMEOUT_MS = 10_000
_STATES: frozenset[str] = frozenset({"started", "stopped"})


class ListenerLost(ConnectionError):
    """The LISTEN connection dropped: notifications may have been missed. Re-read what they
    signal, then call :meth:`Listener.wait` again (it reconnects)."""


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configured in code: the packaged migrations, run on ``connection`` (see ``env.py``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


class Database(DeliveryStore, SubscriptionStore):
    """The transcript store on one database URL (see :func:`connector.store.urls.engine_url`).

    Thread-safe: share one instance; each call checks a connection out of the pool. The webhook
    outbox (:mod:`connector.store.deliveries`) and the subscriptions and phrase rules
    (:mod:`connector.store.subscriptions`) are its mixins."""

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self._url = engine_url(url)
        name = self._url.get_backend_name()
        self._backend = "postgresql" if name == "postgresql" else "sqlite"
        if self._backend == "sqlite":
            self._engine = create_engine(self._url, pool_size=pool_size, hide_parameters=True)
            event.listen(self._engine, "connect", _sqlite_connect)
            event.listen(self._engine, "begin", _sqlite_begin)
        else:
            self._engine = create_engine(
                self._url,
                pool_size=pool_size,
                pool_pre_ping=True,
                hide_parameters=True,  # transcripts are personal data: keep them out of error messages
                connect_args={"application_name": "audiohook-connector", "connect_timeout": 10},
            )

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tools and tests; the methods here are the API)."""
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    # -- plumbing -------------------------------------------------------------------------------

    def _notify(self, connection: Connection, channel: str, conversation_id: str, version: int) -> None:
        self._signal(connection, channel, json.dumps({"conversation": conversation_id, "version": version}))

    # -- schema ---------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision; a no-op when it is there already.

        On PostgreSQL a transaction-scoped advisory lock makes replicas starting together take
        turns (the later ones find the schema current); on both backends the upgrade is one
        transaction."""
        with _migrating, self._transaction(write=True) as connection:
            if self._backend == "postgresql":
                connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
            command.upgrade(alembic_config(connection), "head")

    def current_revision(self) -> str | None:
        """The schema's Alembic revision, ``None`` before the first :meth:`migrate`."""
        with self._transaction() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    # -- writes ---------------------------------------------------------------------------------

    @functools.cached_property
    def _statements(self) -> _WriteStatements:
        """The write path's statements, built once: a statement built per call (its ``excluded``
        alias) left ~200 objects of cyclic garbage per write for the collector, which the server
        runs rarely, so memory climbed for minutes and was then freed in one long pause."""
        upsert = self._insert(schema.sessions)
        new, old = upsert.excluded, schema.sessions.c
        return _WriteStatements(
            session_upsert=upsert.on_conflict_do_update(
                index_elements=[old.session_id],
                set_={column.name: new[column.name] for column in old if column.name != "session_id"},
                where=and_(
                    or_(old.ended_at.is_(None), new.ended_at.is_not(None)),
                    or_(old.updated_at.is_(None), new.updated_at >= old.updated_at),
                ),
            ),
            utterance_insert=self._insert(schema.utterances).on_conflict_do_nothing(),
        )

    def write(
        self,
        sessions: Sequence[SessionRecord],
        utterances: Sequence[UtteranceRecord],
        deliveries: Sequence[Delivery] = (),
    ) -> None:
        """Upsert ``sessions``, insert ``utterances`` and queue ``deliveries`` (in the order given)
        in one transaction (idempotent: each delivery once per ``id``); on PostgreSQL, notify
        :data:`WEBHOOK_CHANNEL` when it commits if any delivery was new."""
        session_rows = [_session_row(record) for record in _latest(sessions)]
        once: dict[tuple[str, str], UtteranceRecord] = {}
        for record in utterances:
            once.setdefault((record.session_id, record.utterance_id), record)  # as in the table: the first stays
        utterance_rows = [_utterance_row(record) for record in once.values()]
        if not session_rows and not utterance_rows and not deliveries:
            return
        with self._transaction(write=True) as connection:
            if session_rows:
                connection.execute(self._statements.session_upsert, session_rows)
            if utterance_rows:
                connection.execute(self._statements.utterance_insert, utterance_rows)
            self._queue_deliveries(connection, deliveries)

    # -- reads ----------------------------------------------------------------------------------

    def conversation(self, conversation_id: str) -> Conversation | None:
        """A conversation's sessions (by start), utterances (spoken order) and control; ``None``
        when neither a session nor a control is known."""
        s, u = schema.sessions.c, schema.utterances.c
        with self._transaction() as connection:
            session_rows = connection.execute(
                select(schema.sessions).where(s.conversation_id == conversation_id).order_by(s.started_at, s.session_id)
            ).all()
            control_row = connection.execute(
                select(schema.controls).where(schema.controls.c.conversation_id == conversation_id)
            ).first()
            if not session_rows and control_row is None:
                return None
            utterance_rows = connection.execute(
                select(schema.utterances)
                .join(schema.sessions, s.session_id == u.session_id)
                .where(u.conversation_id == conversation_id)
                .order_by(s.started_at, s.session_id, u.offset_seconds, u.channel, u.id)
            ).all()
        return Conversation(
            conversation_id=conversation_id,
            sessions=tuple(_session(row) for row in session_rows),
            utterances=tuple(_utterance(row) for row in utterance_rows),
            control=None if control_row is None else _control(control_row),
        )

    def conversations(
        self, *, start: datetime | None, end: datetime | None, cursor: str | None, limit: int
    ) -> ConversationPage:
        """Conversations whose first session started in ``[start, end)`` (``None``: unbounded),
        newest first; ``cursor`` is a previous page's ``next_cursor``."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        after = None if cursor is None else _decode_cursor(cursor)
        s = schema.sessions.c
        first = func.min(s.started_at)
        # Candidates: conversations with any session in range (the first one is among them).
        window: list[ColumnElement[bool]] = []
        if start is not None:
            window.append(s.started_at >= aware(start, "start"))
        if end is not None:
            window.append(s.started_at < aware(end, "end"))
        if after is not None:
            window.append(s.started_at <= after[0])
        having: list[ColumnElement[bool]] = []
        if start is not None:
            having.append(first >= start)
        if end is not None:
            having.append(first < end)
        if after is not None:
            key = tuple_(literal(after[0], UtcDateTime()), literal(after[1], Text()))
            having.append(tuple_(first, s.conversation_id) < key)
        query = (
            select(
                s.conversation_id,
                first.label("started_at"),
                func.min(s.organization_id).label("organization_id"),
                func.max(s.ended_at).label("ended_at"),
                func.count().label("sessions"),
                func.count(s.ended_at).label("ended"),
            )
            .where(s.conversation_id.in_(select(s.conversation_id).where(*window)))
            .group_by(s.conversation_id)
            .having(*having)
            .order_by(first.desc(), s.conversation_id.desc())
            .limit(limit + 1)
        )
        with self._transaction() as connection:
            rows = connection.execute(query).all()
            ids = [row.conversation_id for row in rows[:limit]]
            u = schema.utterances.c
            counted = select(u.conversation_id, func.count()).where(u.conversation_id.in_(ids))
            counts: dict[str, int] = {row[0]: row[1] for row in connection.execute(counted.group_by(u.conversation_id))}
        items = tuple(
            ConversationSummary(
                conversation_id=row.conversation_id,
                organization_id=row.organization_id,
                started_at=row.started_at,
                ended_at=row.ended_at if row.ended == row.sessions else None,
                sessions=row.sessions,
                utterances=counts.get(row.conversation_id, 0),
            )
            for row in rows[:limit]
        )
        more = len(rows) > limit
        return ConversationPage(items=items, next_cursor=_encode_cursor(items[-1]) if more else None)

    def export(self, *, start: datetime, end: datetime, batch_size: int = 1000) -> Iterator[list[UtteranceRecord]]:
        """Every utterance sent in ``[start, end)`` by ``(sent_at, id)``, ``batch_size`` at a time.

        One query per batch, resumed after the last row's key: no cursor or transaction stays
        open between batches, so memory is one batch and the caller may stop at any point."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        return self._export(aware(start, "start"), aware(end, "end"), batch_size)

    def _export(self, start: datetime, end: datetime, batch_size: int) -> Iterator[list[UtteranceRecord]]:
        u = schema.utterances.c
        in_range = select(schema.utterances).where(u.sent_at >= start, u.sent_at < end)
        first = in_range.order_by(u.sent_at, u.id).limit(batch_size)
        # After (sent_at, id) as two index range scans, the rest of that instant and what follows:
        # SQLite seeks a row-value comparison on its first column only, so one crowded instant
        # would be rescanned for every batch. Built once; each batch binds the last key.
        sent_at, last_id = bindparam("sent_at", type_=UtcDateTime()), bindparam("last_id", type_=u.id.type)
        same = select(schema.utterances).where(u.sent_at == sent_at, u.id > last_id).order_by(u.id).limit(batch_size)
        later = select(schema.utterances).where(u.sent_at > sent_at, u.sent_at < end).order_by(u.sent_at, u.id)
        rest = union_all(select(same.subquery()), select(later.limit(batch_size).subquery())).subquery()
        after = select(rest).order_by(rest.c.sent_at, rest.c.id).limit(batch_size)
        key: dict[str, Any] | None = None
        while True:
            with self._transaction() as connection:
                rows = connection.execute(first).all() if key is None else connection.execute(after, key).all()
            if not rows:
                return
            key = {"sent_at": rows[-1].sent_at, "last_id": rows[-1].id}
            batch = [_utterance(row) for row in rows]
            del rows
            yield batch
            if len(batch) < batch_size:
                return

    # -- retention ------------------------------------------------------------------------------

    def purge(self, *, before: datetime, now: datetime | None = None, chunk_size: int = 1000) -> int:
        """Delete what is older than ``before``; return the number of rows deleted.

        That is: sessions that ended before it (and a session a lost replica never ended, not
        updated since then), their utterances, controls not updated since then, webhook
        deliveries created before it that were delivered or dead-lettered (their payloads carry
        transcripts; pending ones stay), and nonces expired at ``now`` (default ``before``). Each
        chunk of at most ``chunk_size`` rows is its own transaction, so a large purge never holds
        one long lock."""
        aware(before, "before")
        expired_at = before if now is None else aware(now, "now")
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        s, u, c, n = schema.sessions.c, schema.utterances.c, schema.controls.c, schema.nonces.c
        over = or_(s.ended_at < before, and_(s.ended_at.is_(None), func.coalesce(s.updated_at, s.started_at) < before))
        steps = (
            delete(schema.utterances).where(
                u.id.in_(select(u.id).join(schema.sessions, s.session_id == u.session_id).where(over).limit(chunk_size))
            ),
            delete(schema.sessions).where(s.session_id.in_(select(s.session_id).where(over).limit(chunk_size))),
            delete(schema.controls).where(
                c.conversation_id.in_(select(c.conversation_id).where(c.updated_at < before).limit(chunk_size))
            ),
            self._purge_deliveries(before, chunk_size),
            delete(schema.nonces).where(n.key.in_(select(n.key).where(n.expires_at <= expired_at).limit(chunk_size))),
        )
        total = 0
        for step in steps:
            while True:
                with self._transaction(write=True) as connection:
                    deleted = connection.execute(step).rowcount
                total += deleted
                if deleted < chunk_size:
                    break
        return total

    # -- start/stop control ---------------------------------------------------------------------

    def put_control(
        self,
        conversation_id: str,
        state: ControlState,
        *,
        language: str | None = None,
        engine: str | None = None,
        customer_id: str | None = None,
        agent_id: str | None = None,
        options: Mapping[str, Any] | None = None,
        now: datetime,
    ) -> ControlRecord:
        """Record a start/stop request, replacing the previous one with ``version`` one higher
        (atomic: concurrent requests get distinct versions); on PostgreSQL, notify
        :data:`CONTROL_CHANNEL` when the transaction commits."""
        if state not in _STATES:
            raise ValueError(f"state must be 'started' or 'stopped', not {state!r}")
        values = {
            "conversation_id": conversation_id,
            "state": state,
            "version": 1,
            "updated_at": aware(now, "now"),
            "language": language,
            "engine": engine,
            "customer_id": customer_id,
            "agent_id": agent_id,
            "options": dict(options or {}),
        }
        c = schema.controls.c
        upsert = self._insert(schema.controls).values(values)
        replace = {name: upsert.excluded[name] for name in values if name not in ("conversation_id", "version")}
        statement = upsert.on_conflict_do_update(
            index_elements=[c.conversation_id], set_={**replace, "version": c.version + 1}
        ).returning(*c)
        with self._transaction(write=True) as connection:
            record = _control(connection.execute(statement).one())
            self._notify(connection, CONTROL_CHANNEL, conversation_id, record.version)
        return record

    def control(self, conversation_id: str) -> ControlRecord | None:
        with self._transaction() as connection:
            row = connection.execute(
                select(schema.controls).where(schema.controls.c.conversation_id == conversation_id)
            ).first()
        return None if row is None else _control(row)

    def notify_applied(self, conversation_id: str, version: int) -> None:
        """Tell every replica a session applied ``version`` (PostgreSQL; a no-op on SQLite)."""
        if self._backend != "postgresql":
            return
        with self._transaction() as connection:
            self._notify(connection, APPLIED_CHANNEL, conversation_id, version)

    # -- replay protection ----------------------------------------------------------------------

    def nonce_seen_or_add(self, key: str, *, now: datetime, expires_at: datetime) -> bool:
        """True if ``key`` is recorded and not expired at ``now``; otherwise record it until
        ``expires_at`` and return False. Of concurrent calls with one key, exactly one gets False."""
        aware(now, "now")
        aware(expires_at, "expires_at")
        n = schema.nonces.c
        with self._transaction(write=True) as connection:
            # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT here.
            inserted = connection.execute(
                self._insert(schema.nonces)
                .values(key=key, expires_at=expires_at)
                .on_conflict_do_nothing()
                .returning(n.key)
            ).first()
            if inserted is not None:
                return False
            # Present: take it over only if it has expired (the row lock makes one caller win).
            renewed = connection.execute(
                update(schema.nonces).where(n.key == key, n.expires_at <= now).values(expires_at=expires_at)
            ).rowcount
            return renewed != 1

    # -- notifications --------------------------------------------------------------------------

    def listener(self, channels: Sequence[str]) -> Listener:
        """A dedicated connection LISTENing on ``channels`` (PostgreSQL only)."""
        if self._backend != "postgresql":
            raise RuntimeError("notifications need PostgreSQL; a SQLite store serves a single process")
        return Listener(self._url.set(drivername="postgresql").render_as_string(hide_password=False), channels)


class Listener:
    """LISTEN on a dedicated autocommit psycopg connection (outside the pool); use from one thread."""

    def __init__(self, conninfo: str, channels: Sequence[str]) -> None:
        if not channels:
            raise ValueError("listen to at least one channel")
        self._conninfo = conninfo
        self._channels = tuple(channels)
        self._connection: psycopg.Connection[Any] | None = None
        self._closed = False
        try:
            self._connection = self._connect()
        except psycopg.OperationalError as error:
            raise ListenerLost(f"cannot LISTEN on PostgreSQL: {_reason(error)}") from None

    def _connect(self) -> psycopg.Connection[Any]:
        connection = psycopg.connect(
            self._conninfo,
            autocommit=True,
            application_name="audiohook-connector listener",
            connect_timeout=10,
            # A half-open connection would wait forever in silence; keepalives notice it.
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        )
        try:
            for channel in self._channels:
                connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except BaseException:
            connection.close()
            raise
        return connection

    def wait(self, timeout: float) -> list[tuple[str, str]]:
        """The ``(channel, payload)`` notifications that arrive within ``timeout`` seconds: returns
        as soon as there is at least one (with any others already received), or ``[]``.

        Raises :class:`ListenerLost` when the connection dropped (the next call reconnects)."""
        if self._closed:
            raise RuntimeError("the listener is closed")
        try:
            if self._connection is None:
                self._connection = self._connect()
            connection = self._connection
            received = [(n.channel, n.payload) for n in connection.notifies(timeout=max(0.0, timeout), stop_after=1)]
            if received:
                received += [(n.channel, n.payload) for n in connection.notifies(timeout=0.0)]
        except psycopg.OperationalError as error:
            self._drop()
            raise ListenerLost(
                f"the LISTEN connection to PostgreSQL was lost ({_reason(error)}); notifications may have "
                "been missed: re-read the state they signal, then wait again (it reconnects)"
            ) from None
        return received

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def close(self) -> None:
        self._closed = True
        self._drop()


def _reason(error: psycopg.Error) -> str:
    """psycopg's message without the connection string (it may carry a password)."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


# -- SQLite connection setup -----------------------------------------------------------------------


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (_sqlite_begin)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.get_execution_options().get(WRITE) else "BEGIN")


# -- records <-> rows ------------------------------------------------------------------------------


def _wins(new: SessionRecord, old: SessionRecord) -> bool:
    """The upsert's rule in Python, to collapse one session written twice in one batch."""
    if old.ended_at is not None and new.ended_at is None:
        return False
    return old.updated_at is None or (new.updated_at is not None and new.updated_at >= old.updated_at)


def _latest(records: Sequence[SessionRecord]) -> list[SessionRecord]:
    kept: dict[str, SessionRecord] = {}
    for record in records:
        old = kept.get(record.session_id)
        if old is None or _wins(record, old):
            kept[record.session_id] = record
    return list(kept.values())


def _session_row(record: SessionRecord) -> dict[str, Any]:
    return {
        "session_id": record.session_id,
        "conversation_id": record.conversation_id,
        "organization_id": record.organization_id,
        "correlation_id": record.correlation_id,
        "started_at": record.started_at,
        "participant": dict(record.participant),
        "channels": list(record.channels),
        "media_format": record.media_format,
        "language": record.language,
        "engine": record.engine,
        "replica": record.replica,
        "transcribing": record.transcribing,
        "control_version": record.control_version,
        "audio_seconds": record.audio_seconds,
        "transcribed_seconds": record.transcribed_seconds,
        "transcripts": record.transcripts,
        "ended_at": record.ended_at,
        "outcome": record.outcome,
        "disconnect_reason": record.disconnect_reason,
        "updated_at": record.updated_at,
    }


def _session(row: Row[Any]) -> SessionRecord:
    m = row._mapping
    return SessionRecord(
        session_id=m["session_id"],
        conversation_id=m["conversation_id"],
        organization_id=m["organization_id"],
        correlation_id=m["correlation_id"],
        started_at=m["started_at"],
        participant=dict(m["participant"]),
        channels=tuple(m["channels"]),
        media_format=m["media_format"],
        language=m["language"],
        engine=m["engine"],
        replica=m["replica"],
        transcribing=m["transcribing"],
        control_version=m["control_version"],
        audio_seconds=m["audio_seconds"],
        transcribed_seconds=m["transcribed_seconds"],
        transcripts=m["transcripts"],
        ended_at=m["ended_at"],
        outcome=m["outcome"],
        disconnect_reason=m["disconnect_reason"],
        updated_at=m["updated_at"],
    )


def _utterance_row(record: UtteranceRecord) -> dict[str, Any]:
    return {
        "session_id": record.session_id,
        "conversation_id": record.conversation_id,
        "utterance_id": record.utterance_id,
        "channel": record.channel,
        "role": record.role,
        "offset_seconds": record.offset,
        "duration_seconds": record.duration,
        "text": record.text,
        "confidence": record.confidence,
        "language": record.language,
        "sent_at": record.sent_at,
        "words": [
            {"value": w.value, "offset": w.offset, "duration": w.duration, "confidence": w.confidence}
            for w in record.words
        ],
        "translation_text": None if record.translation is None else record.translation.text,
        "translation_language": None if record.translation is None else record.translation.language,
        "engine": record.engine,
    }


def _utterance(row: Row[Any]) -> UtteranceRecord:
    m = row._mapping
    text, language = m["translation_text"], m["translation_language"]
    return UtteranceRecord(
        session_id=m["session_id"],
        conversation_id=m["conversation_id"],
        utterance_id=m["utterance_id"],
        channel=m["channel"],
        role=m["role"],
        offset=m["offset_seconds"],
        duration=m["duration_seconds"],
        text=m["text"],
        confidence=m["confidence"],
        language=m["language"],
        sent_at=m["sent_at"],
        words=tuple(
            WordRecord(value=w["value"], offset=w["offset"], duration=w["duration"], confidence=w["confidence"])
            for w in m["words"]
        ),
        translation=None if text is None or language is None else TranslationRecord(text=text, language=language),
        engine=m["engine"],
    )


def _control(row: Row[Any]) -> ControlRecord:
    m = row._mapping
    return ControlRecord(
        conversation_id=m["conversation_id"],
        state=m["state"],
        version=m["version"],
        updated_at=m["updated_at"],
        language=m["language"],
        engine=m["engine"],
        customer_id=m["customer_id"],
        agent_id=m["agent_id"],
        options=dict(m["options"]),
    )


# -- the listing cursor ----------------------------------------------------------------------------


def _encode_cursor(last: ConversationSummary) -> str:
    key = json.dumps([last.started_at.isoformat(), last.conversation_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(key.encode()).decode("ascii")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        started, conversation_id = json.loads(base64.b64decode(cursor.encode("ascii"), altchars=b"-_", validate=True))
        at = datetime.fromisoformat(started)
        if not isinstance(conversation_id, str) or at.tzinfo is None:
            raise ValueError(cursor)
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise ValueError("invalid cursor: pass a page's next_cursor back unchanged") from None
    return at, conversation_id


@dataclass(frozen=True)
class _WriteStatements:
    session_upsert: Executable
    utterance_insert: Executable
