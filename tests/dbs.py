"""Databases for tests: a fresh SQLite file, or a fresh schema on the real PostgreSQL.

PostgreSQL tests use ``CPHMON_TEST_PG_URL`` (default: the project machines' server at
127.0.0.1:5432, database ``test``, trust auth) and skip with the reason when it is absent.
Each test gets its own schema, selected through ``search_path`` in the URL, so tests and the
subprocesses they start see only their own tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest

PG_URL = os.environ.get("CPHMON_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_unavailable() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a dependency
        return f"psycopg not installed: {exc}"
    dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(dsn, connect_timeout=2):
            return None
    except Exception as exc:
        return f"PostgreSQL not reachable at {dsn}: {str(exc).strip().splitlines()[0]}"


_PG_REASON: list[str | None] = []


def require_pg() -> None:
    if not _PG_REASON:
        _PG_REASON.append(pg_unavailable())
    if _PG_REASON[0]:
        pytest.skip(_PG_REASON[0])


@contextmanager
def pg_schema_url() -> Iterator[str]:
    """A URL whose connections live in a new, empty schema (dropped afterwards)."""
    import psycopg

    require_pg()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'monitor.sqlite3'}"
