"""The web process's database connection: read-only, and never in the daemon's way.

SQLite is opened through a ``file:…?mode=ro`` URI, without ``BEGIN IMMEDIATE`` (the daemon's
engine takes the write lock up front; a reader must not). In WAL mode a reader sees a snapshot
and never blocks the writer. The full-text index for SQLite lives in a side file the web
process owns (see :mod:`monitor.web.search`), attached as ``search``. PostgreSQL connections
are set to read-only transactions when they are opened.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import QueuePool

from monitor.db import SQLITE_BUSY_TIMEOUT_MS, DatabaseError, check_schema
from monitor.settings import Settings

SEARCH_SCHEMA = "search"  # the attached SQLite side file holding the FTS5 index


@dataclass(frozen=True, slots=True)
class WebDatabase:
    """The read-only engine and, on SQLite, the path of the search index file."""

    engine: Engine
    search_index: Path | None  # None on PostgreSQL (its index is in the database)

    @property
    def is_sqlite(self) -> bool:
        return self.search_index is not None


def open_readonly(settings: Settings) -> WebDatabase:
    """A read-only engine on the configured database, its schema checked to be current."""
    url = settings.effective_database_url
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"database URL {url!r} is not a valid SQLAlchemy URL") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:" or not Path(database).is_file():
            raise DatabaseError(
                f"no database at {database or '(none)'}: run `cphpost-monitor db upgrade` first"
            )
        index = settings.data_dir / "web-search.sqlite3"
        web = WebDatabase(_sqlite_readonly(Path(database), index), index)
    elif parsed.get_backend_name() == "postgresql":
        web = WebDatabase(_postgres_readonly(url), None)
    else:
        raise DatabaseError(f"database kind {parsed.get_backend_name()!r} is not supported")
    check_schema(web.engine)
    return web


def _sqlite_readonly(database: Path, index: Path) -> Engine:
    uri = f"file:{quote(str(database.resolve()))}?mode=ro"
    try:
        index.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"cannot create {index.parent} for the search index: {exc}") from None
    index_uri = f"file:{quote(str(index.resolve()))}?mode=rwc"

    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)
        connection.isolation_level = None  # each read is its own snapshot; no BEGIN IMMEDIATE
        connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        connection.execute("ATTACH DATABASE ? AS " + SEARCH_SCHEMA, (index_uri,))
        return connection

    return create_engine(
        "sqlite://", creator=connect, poolclass=QueuePool, pool_size=5, max_overflow=5
    )


def _postgres_readonly(url: str) -> Engine:
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)

    @event.listens_for(engine, "connect")
    def _read_only(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            cursor.execute("SET statement_timeout = '10s'")
        dbapi_connection.commit()

    return engine
