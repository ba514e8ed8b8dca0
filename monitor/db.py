"""Engine, sessions and schema: SQLite (embedded default) or PostgreSQL from the same code.

SQLite runs in WAL mode with foreign keys on, a busy timeout, and ``BEGIN IMMEDIATE``
transactions: a writer takes the lock up front instead of failing half-way when a backfill and
the daemon write at the same time. The schema belongs to alembic; the service refuses to run on
a database that is behind the code.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.exc import DatabaseError as SQLAlchemyDatabaseError
from sqlmodel import Session, SQLModel

from monitor.files import private_file
from monitor.settings import Settings

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000


class DatabaseError(Exception):
    """The database cannot be used as configured (unreachable, unknown kind, old schema)."""


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"database URL {url!r} is not a valid SQLAlchemy URL") from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    if parsed.get_backend_name() != "postgresql":
        raise DatabaseError(f"database kind {parsed.get_backend_name()!r} is not supported")
    try:
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseError(f"database driver missing for {parsed.drivername}: {exc}") from None


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:" and not database.startswith("file:"):
        private_file(Path(database).expanduser())
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:  # the first read of the file's header
            raise DatabaseError(_not_sqlite(database, exc)) from None
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # an AUTOCOMMIT connection runs each statement as its own transaction (one round trip)
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _not_sqlite(database: str | None, exc: Exception) -> str:
    """Reading the file ourselves to check its header would be wrong: closing any descriptor
    of a database file drops every SQLite lock this process holds on it (POSIX locks), and
    another engine of this process may have it open. SQLite's own first read tells instead."""
    if "not a database" in str(exc):
        return (
            f"{database} is not an SQLite database (corrupt, or another kind of file): move it "
            "away, or point CPHMON_DATABASE_URL or CPHMON_DATA_DIR elsewhere"
        )
    return f"cannot open the database {database}: {exc}"


@cache
def engine_for(url: str) -> Engine:
    """One engine (and connection pool) per database URL and process."""
    return make_engine(url)


def get_engine(settings: Settings) -> Engine:
    return engine_for(settings.effective_database_url)


@contextmanager
def session(engine: Engine) -> Iterator[Session]:
    """A unit of work: committed on success, rolled back on any error."""
    with Session(engine, expire_on_commit=False) as db:
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


# Schema ---------------------------------------------------------------------------------------


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            revision = MigrationContext.configure(connection).get_current_revision()
            if revision is None:
                _refuse_foreign(connection)
            return revision
    except SQLAlchemyDatabaseError as exc:
        raise DatabaseError(f"cannot open the database: {_first_line(exc)}") from None


def _refuse_foreign(connection: Connection) -> None:
    """An SQLite file with tables but no schema revision belongs to another program: migrating
    it would mix our tables into its data."""
    if connection.dialect.name != "sqlite":
        return  # a PostgreSQL database may hold other applications' schemas beside ours
    tables = sorted(inspect(connection).get_table_names())
    if not tables:
        return
    path = connection.engine.url.database
    held = f"the table {tables[0]}" if len(tables) == 1 else f"the tables {', '.join(tables[:5])}"
    raise DatabaseError(
        f"{path} is not a cphpost-monitor database (it holds {held}): "
        "point CPHMON_DATABASE_URL or CPHMON_DATA_DIR elsewhere"
    )


def upgrade(url: str, revision: str = "head") -> None:
    engine = engine_for(url)
    current_revision(engine)  # refuses a foreign or unreadable database before touching it
    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def check_schema(engine: Engine) -> None:
    """Refuse to run on a database whose schema is missing or behind the code."""
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    if current is None:
        raise DatabaseError("the database has no schema yet: run `cphpost-monitor db upgrade`")
    raise DatabaseError(
        f"the database schema is at {current}, the code needs {head}: "
        "run `cphpost-monitor db upgrade`"
    )


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]


# Storage statistics ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StorageStats:
    """Rows and bytes per table and of the whole database (``db stats``)."""

    rows: dict[str, int]
    bytes: int
    table_bytes: dict[str, int]  # empty when the database cannot tell
    free_bytes: int  # SQLite: free pages, reused before the file grows

    def to_dict(self) -> dict[str, Any]:
        return {
            "tables": self.rows,
            "bytes": self.bytes,
            "table_bytes": self.table_bytes,
            "free_bytes": self.free_bytes,
        }


def storage_stats(engine: Engine) -> StorageStats:
    import monitor.models  # noqa: F401  (the tables register on SQLModel.metadata on import)

    dialect = engine.dialect.name
    with engine.connect() as connection:
        rows = {
            name: int(connection.execute(select(func.count()).select_from(table)).one()[0])
            for name, table in SQLModel.metadata.tables.items()
        }
        return StorageStats(
            rows=rows,
            bytes=_database_bytes(connection, dialect),
            table_bytes=_table_sizes(connection, dialect, list(rows)),
            free_bytes=_free(connection, dialect),
        )


def _database_bytes(connection: Connection, dialect: str) -> int:
    if dialect == "sqlite":
        pages = connection.execute(text("PRAGMA page_count")).scalar() or 0
        page_size = connection.execute(text("PRAGMA page_size")).scalar() or 0
        return int(pages) * int(page_size)
    return int(
        connection.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0
    )


def _table_sizes(connection: Connection, dialect: str, names: list[str]) -> dict[str, int]:
    """Bytes per table, its indexes included; empty when the database cannot tell."""
    if dialect != "sqlite":
        query = text("SELECT pg_total_relation_size(to_regclass(CAST(:name AS text)))")
        return {n: int(connection.execute(query, {"name": n}).scalar() or 0) for n in names}
    try:  # the dbstat table is compiled into most SQLite builds, not all
        rows = connection.execute(
            text("SELECT tbl_name, name FROM sqlite_schema WHERE type IN ('table', 'index')")
        ).all()
        query = text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
        pages = {str(name): int(size or 0) for name, size in connection.execute(query)}
    except OperationalError:
        return {}
    sizes = dict.fromkeys(names, 0)
    for table_name, name in rows:
        if table_name in sizes:
            sizes[table_name] += pages.get(name, 0)
    return sizes


def _free(connection: Connection, dialect: str) -> int:
    """SQLite: bytes of free pages, reused by new rows before the file grows."""
    if dialect != "sqlite":
        return 0
    pages = connection.execute(text("PRAGMA freelist_count")).scalar() or 0
    page_size = connection.execute(text("PRAGMA page_size")).scalar() or 0
    return int(pages) * int(page_size)
