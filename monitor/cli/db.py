"""``cphpost-monitor db``: schema upgrades and storage statistics."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from monitor.cli.common import UserError, console, open_store, settings
from monitor.db import (
    DatabaseError,
    current_revision,
    get_engine,
    head_revision,
    storage_stats,
    upgrade,
)
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
    stats = storage_stats(open_store(s))
    if json_output:
        typer.echo(json.dumps(stats.to_dict()))
        return
    table = Table("table", "rows", "size", title=f"database {_shown(s.effective_database_url)}")
    for name, count in sorted(stats.rows.items()):
        table.add_row(name, f"{count:,}", _mib(stats.table_bytes.get(name)))
    console.print(table)
    console.print(f"size: {stats.bytes / 1_048_576:.1f} MiB", highlight=False)
    if stats.free_bytes:
        console.print(
            f"free for reuse: {stats.free_bytes / 1_048_576:.1f} MiB"
            " (filled again before the file grows)",
            highlight=False,
        )


def _mib(size: int | None) -> str:
    return "?" if size is None else f"{size / 1_048_576:.2f} MiB"


def _shown(url: str) -> str:
    return url if url.startswith("sqlite") else mask_secret_url(url)
