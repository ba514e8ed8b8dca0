"""``cphpost-monitor db``: schema upgrades and storage statistics."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Connection, func, text
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
    """Row counts per table and the database size (versions are kept forever)."""
    s = settings()
    engine = open_store(s)
    counts: dict[str, int] = {}
    with engine.connect() as connection:
        for name, tbl in SQLModel.metadata.tables.items():
            counts[name] = int(connection.execute(select(func.count()).select_from(tbl)).one()[0])
        size = _size(connection, engine.dialect.name)
    if json_output:
        typer.echo(json.dumps({"tables": counts, "bytes": size}))
        return
    table = Table("table", "rows", title=f"database {_shown(s.effective_database_url)}")
    for name, count in sorted(counts.items()):
        table.add_row(name, f"{count:,}")
    console.print(table)
    console.print(f"size: {size / 1_048_576:.1f} MiB")


def _size(connection: Connection, dialect: str) -> int:
    if dialect == "sqlite":
        pages = connection.execute(text("PRAGMA page_count")).scalar() or 0
        page_size = connection.execute(text("PRAGMA page_size")).scalar() or 0
        return int(pages) * int(page_size)
    return int(
        connection.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0
    )


def _shown(url: str) -> str:
    return url if url.startswith("sqlite") else mask_secret_url(url)
