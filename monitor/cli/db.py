"""``cphpost-monitor db``: schema upgrades and storage statistics."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Connection, func, text
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel, select

from monitor.cli.common import UserError, console, open_store, settings
from monitor.db import DatabaseError, current_revision, get_engine, head_revision, upgrade
from monitor.settings import mask_secret_url

db_app = typer.Typer(help="Database schema and storage statistics.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_command() -> None:
    """Create the schema or bring it up to date (safe to run every start)."""
    s = settings()
    try:
        upgrade(s.effective_database_url)
    except DatabaseError as exc:
        raise UserError(str(exc)) from None
    console.print(f"database {_shown(s.effective_database_url)} is at {head_revision()}")


@db_app.command("current")
def current_command() -> None:
    """Print the schema revision of the database and of the code."""
    s = settings()
    engine = get_engine(s)
    try:
        current = current_revision(engine)
    except DatabaseError as exc:
        raise UserError(str(exc)) from None
    console.print(f"database: {current or 'no schema'}; code: {head_revision()}")


@db_app.command("stats")
def stats_command(
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Rows and bytes per table and the database size (versions are kept forever; the fetch
    log is pruned after fetch_log_days)."""
    s = settings()
    engine = open_store(s)
    counts: dict[str, int] = {}
    with engine.connect() as connection:
        for name, tbl in SQLModel.metadata.tables.items():
            counts[name] = int(connection.execute(select(func.count()).select_from(tbl)).one()[0])
        size = _size(connection, engine.dialect.name)
        sizes = _table_sizes(connection, engine.dialect.name, list(counts))
        free = _free(connection, engine.dialect.name)
    if json_output:
        data = {"tables": counts, "bytes": size, "table_bytes": sizes, "free_bytes": free}
        typer.echo(json.dumps(data))
        return
    table = Table("table", "rows", "size", title=f"database {_shown(s.effective_database_url)}")
    for name, count in sorted(counts.items()):
        table.add_row(name, f"{count:,}", _mib(sizes.get(name)))
    console.print(table)
    console.print(f"size: {size / 1_048_576:.1f} MiB", highlight=False)
    if free:
        console.print(
            f"free for reuse: {free / 1_048_576:.1f} MiB (filled again before the file grows)",
            highlight=False,
        )


def _size(connection: Connection, dialect: str) -> int:
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


def _mib(size: int | None) -> str:
    return "?" if size is None else f"{size / 1_048_576:.2f} MiB"


def _shown(url: str) -> str:
    return url if url.startswith("sqlite") else mask_secret_url(url)
