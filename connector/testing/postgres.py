"""A real, throw-away PostgreSQL cluster for tests: ``initdb`` in a temporary directory, 127.0.0.1 only.

The store's SQL is tested against a real server, not a mock: the upsert, the advisory lock,
``pg_notify`` and concurrent transactions only prove themselves on PostgreSQL itself. The
cluster trusts local connections (nothing but 127.0.0.1 can reach it), runs without fsync, and
is deleted on :meth:`PostgresCluster.stop`::

    with PostgresCluster() as cluster:
        url = cluster.create_database("t1")     # postgresql://postgres@127.0.0.1:PORT/t1
        ...

The binaries are found on ``PATH`` or, as Debian installs them, under
``/usr/lib/postgresql/<version>/bin`` (the newest). ``initdb`` refuses to run as root, so as root
the server runs as the ``postgres`` user (``runuser``, else ``setpriv``), which owns the
directory. Missing binaries (or no way to drop root) raise :class:`PostgresUnavailable`, which
the test suite turns into a skip, or a failure under CI.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql

__all__ = ["PostgresCluster", "PostgresError", "PostgresUnavailable", "find_postgres_bin"]

_DEBIAN_ROOT = Path("/usr/lib/postgresql")
_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",  # a test cluster is thrown away: durability buys nothing
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
}
_START_ATTEMPTS = 3  # a free port can be taken between choosing it and the server binding it


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server binaries are not installed (or cannot be run here)."""


class PostgresError(RuntimeError):
    """The binaries are there but the cluster failed to start or to answer."""


def find_postgres_bin() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``: ``PATH`` first, then the
    newest ``/usr/lib/postgresql/*/bin``."""
    on_path = shutil.which("initdb")
    if on_path is not None:
        directory = Path(on_path).resolve().parent
        if (directory / "pg_ctl").exists():
            return directory
    versions = sorted(
        (path for path in _DEBIAN_ROOT.glob("*/bin") if (path / "initdb").exists() and (path / "pg_ctl").exists()),
        key=lambda path: _version_key(path.parent.name),
    )
    if versions:
        return versions[-1]
    raise PostgresUnavailable(
        "PostgreSQL is not installed (no initdb on PATH or under /usr/lib/postgresql/*/bin): "
        "apt-get install postgresql, dnf install postgresql-server, or brew install postgresql@16"
    )


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


def _as_postgres_user() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that drops root to the ``postgres`` user, and that user (``None``: not root)."""
    if os.geteuid() != 0:
        return [], None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable("running as root and there is no 'postgres' user to run the server as") from None
    if (runuser := shutil.which("runuser")) is not None:
        return [runuser, "-u", "postgres", "--"], user
    if (setpriv := shutil.which("setpriv")) is not None:
        return [setpriv, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"], user
    raise PostgresUnavailable("running as root and neither runuser nor setpriv can run the server as 'postgres'")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PostgresCluster:
    """One cluster; :meth:`start` it (or use ``with``), :meth:`stop` deletes it."""

    def __init__(self, *, database: str = "connector") -> None:
        self.database = database
        self.port = 0
        self._root: Path | None = None
        self._bin: Path | None = None
        self._prefix: list[str] = []

    @property
    def url(self) -> str:
        """The URL of the cluster's database (``postgresql://postgres@127.0.0.1:PORT/<database>``)."""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        if self._root is None:
            raise RuntimeError("the cluster is not running")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        assert self._bin is not None
        command = [*self._prefix, str(self._bin / args[0]), *args[1:]]
        result = subprocess.run(  # noqa: S603 - our own arguments, no shell
            command, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C", "LANG": "C"}, check=False
        )
        if result.returncode != 0:
            output = (result.stderr or result.stdout).strip()[-2000:]
            raise PostgresError(f"{args[0]} failed ({result.returncode}): {output}")

    def start(self) -> PostgresCluster:
        if self._root is not None:
            return self
        self._bin = find_postgres_bin()
        self._prefix, user = _as_postgres_user()
        root = Path(tempfile.mkdtemp(prefix="connector-pg-"))
        self._root = root
        try:
            if user is not None:
                os.chown(root, user.pw_uid, user.pw_gid)
            data = root / "data"
            self._run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "-N")
            (data / "pg_hba.conf").write_text(
                "local all all trust\nhost all all 127.0.0.1/32 trust\n", encoding="utf-8"
            )
            self._start_server(data, root)
            self.create_database(self.database)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_server(self, data: Path, root: Path) -> None:
        base = (data / "postgresql.conf").read_text(encoding="utf-8")
        settings = {**_SETTINGS, "unix_socket_directories": str(root)}
        for attempt in range(_START_ATTEMPTS):
            self.port = _free_port()
            lines = [f"{name} = '{value.replace(chr(39), chr(39) * 2)}'" for name, value in settings.items()]
            (data / "postgresql.conf").write_text(base + "\n" + "\n".join([*lines, f"port = {self.port}"]) + "\n")
            try:
                self._run("pg_ctl", "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60", "start")
                return
            except PostgresError as error:
                log = root / "server.log"
                tail = log.read_text(encoding="utf-8", errors="replace")[-2000:] if log.exists() else ""
                if attempt + 1 == _START_ATTEMPTS or "could not bind" not in tail:
                    raise PostgresError(f"{error}\n{tail}") from None

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url_for("postgres"), autocommit=True, connect_timeout=10)

    def create_database(self, name: str, *, template: str = "template0") -> str:
        """Create database ``name`` (a copy of ``template``) and return its URL."""
        with self._admin() as connection:
            connection.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
            )
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, closing whatever connections are still open to it."""
        with self._admin() as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        """Stop the server at once (no checkpoint: the data is discarded) and delete the directory."""
        root, self._root = self._root, None
        if root is None:
            return
        try:
            if (root / "data" / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
