#!/usr/bin/env python3
"""Copy every row of one cphpost-monitor database into another, empty one.

Made for moving from SQLite to PostgreSQL with the whole history (every version, change,
alert and delivery), not only what a backfill can fetch again:

    cphpost-monitor db upgrade                       # with CPHMON_DATABASE_URL = the new database
    python deploy/copy-database.py sqlite:////var/lib/cphpost-monitor/cphpost-monitor.sqlite3

Run it with the Python that has cphpost-monitor installed (/opt/cphpost-monitor/bin/python).
TARGET_URL defaults to the configured database (CPHMON_DATABASE_URL, CPHMON_CONFIG). Both
databases must be at the schema of the installed code (run `cphpost-monitor db upgrade` on
each) and the target must be empty. Stop every daemon first; the copy runs in one transaction
on the target, so a failure leaves it empty. See docs/operations.md, "Moving to PostgreSQL".
Exit codes: 0 copied, 1 refused or failed (one line on stderr says why).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Connection, Engine, Integer, Table, func, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import SQLModel

import monitor.models  # noqa: F401  (registers every table on SQLModel.metadata)
from monitor.db import DatabaseError, current_revision, head_revision, make_engine
from monitor.settings import SettingsError, load_settings, mask_secret_url

BATCH = 1000


class CopyError(Exception):
    """The copy was refused or failed; the message says why in one line."""


def shown(url: str) -> str:
    return url if url.startswith("sqlite") else mask_secret_url(url)


def copy_database(source_url: str, target_url: str) -> dict[str, int]:
    """Copy all rows from source to target; returns rows copied per table."""
    if source_url == target_url:
        raise CopyError("source and target are the same database")
    parsed = make_url(source_url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        raise CopyError(f"source {source_url} does not exist")
    source, target = make_engine(source_url), make_engine(target_url)
    try:
        head = head_revision()
        for role, engine, url in (("source", source, source_url), ("target", target, target_url)):
            revision = current_revision(engine)
            if revision != head:
                raise CopyError(
                    f"{role} {shown(url)} is at schema {revision or 'none'}, the code at {head}: "
                    "run `cphpost-monitor db upgrade` on it first"
                )
        tables = _tables(source, target)
        with source.connect() as reader, target.begin() as writer:
            for table in tables:
                rows = writer.execute(select(func.count()).select_from(table)).scalar_one()
                if rows:
                    raise CopyError(f"target table {table.name} is not empty ({rows} rows)")
            counts = {table.name: _copy_table(reader, writer, table) for table in tables}
            if writer.dialect.name == "postgresql":
                for table in tables:
                    _reset_sequence(writer, table)
        return counts
    finally:
        source.dispose()
        target.dispose()


def _tables(source: Engine, target: Engine) -> list[Table]:
    """The model tables in foreign-key order, after checking both databases have exactly them."""
    tables = list(SQLModel.metadata.sorted_tables)
    wanted = {t.name for t in tables}
    for role, engine in (("source", source), ("target", target)):
        present = set(inspect(engine).get_table_names()) - {"alembic_version"}
        if present != wanted:
            missing, extra = sorted(wanted - present), sorted(present - wanted)
            raise CopyError(
                f"{role} tables differ from the models: missing {missing}, extra {extra}"
            )
    return tables


def _copy_table(reader: Connection, writer: Connection, table: Table) -> int:
    order = list(table.primary_key.columns) or list(table.columns)
    result = reader.execution_options(stream_results=True).execute(select(table).order_by(*order))
    copied = 0
    for rows in result.partitions(BATCH):
        writer.execute(insert(table), [dict(row._mapping) for row in rows])
        copied += len(rows)
    return copied


def _reset_sequence(writer: Connection, table: Table) -> None:
    """Point an integer key's sequence past the copied ids, so new rows do not collide."""
    keys = list(table.primary_key.columns)
    if len(keys) != 1 or not isinstance(keys[0].type, Integer):
        return
    column = keys[0].name
    writer.execute(
        text(
            "SELECT setval(pg_get_serial_sequence(:table, :column), "
            f'COALESCE((SELECT MAX("{column}") FROM "{table.name}"), 0) + 1, false)'
        ),
        {"table": f'"{table.name}"', "column": column},
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="copy-database.py",
        description="Copy every row of a cphpost-monitor database into another, empty one.",
    )
    parser.add_argument("source", help="SQLAlchemy URL to copy from, e.g. sqlite:////path/db")
    parser.add_argument(
        "target",
        nargs="?",
        help="SQLAlchemy URL to copy into (default: the configured CPHMON_DATABASE_URL)",
    )
    args = parser.parse_args(argv)
    try:
        target = args.target or load_settings().effective_database_url
        counts = copy_database(args.source, target)
    except (CopyError, DatabaseError, SettingsError, ArgumentError) as exc:
        print(f"copy-database: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        print(f"copy-database: {type(exc).__name__}: {first}", file=sys.stderr)
        return 1
    total = sum(counts.values())
    for name, rows in counts.items():
        print(f"{name:<12} {rows:>10,}")
    print(f"copied {total:,} rows from {shown(args.source)} to {shown(target)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
