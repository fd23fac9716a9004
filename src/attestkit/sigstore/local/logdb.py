"""The transparency log's database: one SQLite file (one node) or PostgreSQL (many nodes).

:class:`~attestkit.sigstore.local.log.TransparencyLog` speaks a small subset of
SQL that both engines run unchanged (``?`` placeholders are translated for
psycopg); what differs lives here: connecting, creating the schema, and how a
write transaction excludes every other writer.

* **SQLite**: ``BEGIN IMMEDIATE`` takes the database's write lock (across
  processes on one machine); WAL with ``synchronous=FULL``; the schema version
  is ``PRAGMA user_version``.
* **PostgreSQL**: every node appends to one tree, so a write transaction first
  takes ``pg_advisory_xact_lock`` on the log's key; the appender then re-reads
  the size (another node may have appended) and continues from the stored
  frontier.  The primary key on ``log_index`` and the unique leaf hash make a
  duplicate index impossible even if that lock were bypassed; triggers refuse
  updates and deletes.  Tables live in their own schema (``attestkit_tlog``),
  so the log can share the index's database.  Commits are durable
  (``synchronous_commit`` is left at its default, on).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final, Protocol

__all__ = ["LogConnection", "LogDatabase", "PostgresLogDatabase", "SqliteLogDatabase", "open_db"]

#: Schema version of the log's tables.
SCHEMA_VERSION: Final = 1
#: The PostgreSQL schema the log's tables live in.
PG_SCHEMA: Final = "attestkit_tlog"
#: ``pg_advisory_xact_lock`` key of the log's writers ("attestkit tlog").
_PG_WRITE_LOCK: Final = 0x61746B746C6F67

_SQLITE_SCHEMA: Final = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    """CREATE TABLE entries (
        log_index INTEGER PRIMARY KEY,
        body BLOB NOT NULL,
        integrated_time INTEGER NOT NULL,
        leaf_hash BLOB NOT NULL,
        set_signature BLOB NOT NULL
    )""",
    "CREATE UNIQUE INDEX entries_by_leaf_hash ON entries (leaf_hash)",
    """CREATE TABLE nodes (
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (level, idx)
    ) WITHOUT ROWID""",
    *(
        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END"
        for table in ("entries", "nodes", "meta")
        for op in ("UPDATE", "DELETE")
    ),
)

_PG_SCHEMA: Final = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE entries (
        log_index BIGINT PRIMARY KEY,
        body BYTEA NOT NULL,
        integrated_time BIGINT NOT NULL,
        leaf_hash BYTEA NOT NULL,
        set_signature BYTEA NOT NULL
    )""",
    "CREATE UNIQUE INDEX entries_by_leaf_hash ON entries (leaf_hash)",
    """CREATE TABLE nodes (
        level INTEGER NOT NULL,
        idx BIGINT NOT NULL,
        hash BYTEA NOT NULL,
        PRIMARY KEY (level, idx)
    )""",
    """CREATE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the transparency log is append-only'; END $$""",
    *(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION append_only()"
        for table in ("entries", "nodes", "meta")
    ),
)


class LogConnection(Protocol):
    """The DB-API subset the log uses (``?`` placeholders, explicit transactions)."""

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open."""
        ...

    def execute(self, sql: str, params: Any = ()) -> Any:
        """Run one statement; a cursor with ``fetchone``/``fetchall``/iteration."""
        ...

    def executemany(self, sql: str, rows: Any) -> Any:
        """Run one statement for each row."""
        ...

    def cursor(self) -> Any:
        """A cursor with ``execute``."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...


class LogDatabase(Protocol):
    """Where a log is stored and how its transactions are opened."""

    #: For messages: the file, or the database URL without its password.
    where: str

    def connect(self, *, readonly: bool) -> LogConnection:
        """A new connection in autocommit mode (the log opens its own transactions)."""
        ...

    def begin_write(self, conn: LogConnection) -> None:
        """Open a transaction that excludes every other writer, on any node."""
        ...

    def begin_read(self, conn: LogConnection) -> None:
        """Open a transaction that reads one consistent snapshot."""
        ...

    def create_schema(self, conn: LogConnection) -> bool:
        """In an open write transaction: create the tables if absent; True if created.

        :class:`~attestkit.sigstore.local.log.LogError` if the database holds
        something else, or another schema version.
        """
        ...


def open_db(target: str | os.PathLike[str]) -> LogDatabase:
    """A ``postgresql://`` URL, or the path of an SQLite file."""
    text = os.fspath(target)
    if text.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return PostgresLogDatabase(text)
    return SqliteLogDatabase(Path(text))


class SqliteLogDatabase:
    """One SQLite file in WAL mode, ``synchronous=FULL``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)

    def connect(self, *, readonly: bool) -> LogConnection:
        """A connection in autocommit mode (explicit transactions)."""
        import sqlite3

        from attestkit.sigstore.local.log import LogError

        conn = sqlite3.connect(
            str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False
        )
        try:
            if readonly:
                conn.execute("PRAGMA query_only = ON")
            else:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise LogError(f"{self.path}: cannot enable SQLite WAL mode (got {mode!r})")
            conn.execute("PRAGMA synchronous = FULL")
        except BaseException:
            conn.close()
            raise
        return conn

    def begin_write(self, conn: LogConnection) -> None:
        """``BEGIN IMMEDIATE``: SQLite's write lock."""
        conn.execute("BEGIN IMMEDIATE")

    def begin_read(self, conn: LogConnection) -> None:
        """A deferred transaction: one snapshot in WAL mode."""
        conn.execute("BEGIN")

    def create_schema(self, conn: LogConnection) -> bool:
        """Tables and triggers, versioned by ``PRAGMA user_version``."""
        from attestkit.sigstore.local.log import LogError

        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise LogError(f"{self.path} is an SQLite database but not a transparency log")
            for statement in _SQLITE_SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            return True
        if version != SCHEMA_VERSION:
            raise LogError(f"{self.path}: unsupported log schema version {version}")
        return False


class _PgConnection:
    """A psycopg connection that takes the log's ``?`` placeholders."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return bool(self._conn.info.transaction_status != TransactionStatus.IDLE)

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self._conn.execute(sql.replace("?", "%s"), params or None)

    def executemany(self, sql: str, rows: Any) -> Any:
        cursor = self._conn.cursor()
        cursor.executemany(sql.replace("?", "%s"), rows)
        return cursor

    def cursor(self) -> Any:
        return _PgCursor(self)

    def close(self) -> None:
        self._conn.close()


class _PgCursor:
    def __init__(self, conn: _PgConnection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self._conn.execute(sql, params)


class PostgresLogDatabase:
    """The log's tables in schema ``attestkit_tlog`` of a PostgreSQL database."""

    def __init__(self, url: str) -> None:
        for scheme in ("postgresql+psycopg://", "postgres://"):
            if url.startswith(scheme):
                url = "postgresql://" + url.removeprefix(scheme)
        self.url = url
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        self.where = f"postgresql://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"

    def connect(self, *, readonly: bool) -> LogConnection:
        """An autocommit connection whose ``search_path`` is the log's schema."""
        import psycopg

        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        try:
            conn.execute(f"SET search_path TO {PG_SCHEMA}")
            if readonly:
                conn.execute("SET default_transaction_read_only = on")
        except BaseException:
            conn.close()
            raise
        return _PgConnection(conn)

    def begin_write(self, conn: LogConnection) -> None:
        """``BEGIN`` and the writers' advisory lock (held until commit or rollback)."""
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(?)", (_PG_WRITE_LOCK,))

    def begin_read(self, conn: LogConnection) -> None:
        """A repeatable-read transaction: one snapshot."""
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def create_schema(self, conn: LogConnection) -> bool:
        """The schema, tables and triggers, versioned in ``meta``."""
        from attestkit.sigstore.local.log import LogError

        exists = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            (PG_SCHEMA, "meta"),
        ).fetchone()
        if exists is None:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}")
            for statement in _PG_SCHEMA:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                ("schema_version", str(SCHEMA_VERSION)),
            )
            return True
        row = conn.execute("SELECT value FROM meta WHERE key = ?", ("schema_version",)).fetchone()
        if row is None or row[0] != str(SCHEMA_VERSION):
            raise LogError(
                f"{self.where}: unsupported log schema version {row[0] if row else 'none'}"
            )
        return False
