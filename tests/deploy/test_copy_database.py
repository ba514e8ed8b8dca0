"""deploy/copy-database.py: the whole history moves from SQLite into an empty database.

Every table gets rows (generated from the models, so a new table or column is covered without
editing this file); the copy must hold the same rows, refuse a target that is not empty or not
at the code's schema, and leave PostgreSQL's id sequences past the copied ids.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    String,
    Table,
    insert,
    select,
)
from sqlmodel import SQLModel

from monitor.db import engine_for, make_engine, upgrade
from tests.dbs import pg_schema_url
from tests.deploy.deployfiles import COPY_SCRIPT

ROWS = 3


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("copy_database", COPY_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgraded(url: str) -> str:
    upgrade(url)
    engine_for(url).dispose()
    return url


def sqlite(tmp_path: Path, name: str) -> str:
    return f"sqlite:///{tmp_path / name}"


def value(column: Column[Any], n: int) -> Any:
    if column.foreign_keys:
        return 1  # the first row of the parent table, inserted before (foreign-key order)
    kind = getattr(column.type, "impl", column.type)  # TypeDecorators: the type underneath
    if isinstance(kind, Boolean):
        return n % 2 == 0
    if isinstance(kind, Integer):
        return n if column.primary_key else 1000 + n
    if isinstance(kind, Float):
        return n + 0.5
    if isinstance(kind, DateTime):
        return datetime(2025, 1, 31, 12, tzinfo=UTC) + timedelta(minutes=n)
    if isinstance(kind, JSON):
        return {"n": n, "topics": ["asylum"], "text": "æøå"}
    assert isinstance(kind, String), f"{column.table.name}.{column.name}: {kind!r}"
    return f"{column.name}-{n}"


def populate(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in SQLModel.metadata.sorted_tables:
            rows = [{c.name: value(c, n) for c in table.columns} for n in range(1, ROWS + 1)]
            connection.execute(insert(table), rows)


def contents(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as connection:
        return {
            table.name: [
                dict(row._mapping)
                for row in connection.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in SQLModel.metadata.sorted_tables
        }


@pytest.fixture
def source(tmp_path: Path) -> Iterator[str]:
    url = upgraded(sqlite(tmp_path, "old.sqlite3"))
    engine = make_engine(url)
    populate(engine)
    engine.dispose()
    yield url


def test_copies_every_row_of_every_table(
    script: ModuleType, source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = upgraded(sqlite(tmp_path, "new.sqlite3"))
    assert script.main([source, target]) == 0
    tables = SQLModel.metadata.sorted_tables
    out = capsys.readouterr().out
    assert f"copied {ROWS * len(tables)} rows from {source} to {target}" in out
    a, b = make_engine(source), make_engine(target)
    try:
        copied = contents(b)
        assert copied == contents(a)
        assert all(len(rows) == ROWS for rows in copied.values())
    finally:
        a.dispose()
        b.dispose()


def test_target_defaults_to_the_configured_database(
    script: ModuleType, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = upgraded(sqlite(tmp_path, "new.sqlite3"))
    monkeypatch.setenv("CPHMON_DATABASE_URL", target)
    assert script.main([source]) == 0


def test_refuses_a_target_that_is_not_empty(
    script: ModuleType, source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = upgraded(sqlite(tmp_path, "new.sqlite3"))
    assert script.main([source, target]) == 0
    capsys.readouterr()
    assert script.main([source, target]) == 1
    assert "is not empty" in capsys.readouterr().err


def test_refuses_a_target_without_the_schema(
    script: ModuleType, source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert script.main([source, sqlite(tmp_path, "blank.sqlite3")]) == 1
    err = capsys.readouterr().err
    assert "target" in err and "run `cphpost-monitor db upgrade` on it first" in err


def test_refuses_a_missing_source(
    script: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = sqlite(tmp_path, "typo.sqlite3")
    assert script.main([missing, upgraded(sqlite(tmp_path, "new.sqlite3"))]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "typo.sqlite3").exists()


def test_a_failed_copy_leaves_the_target_empty(
    script: ModuleType, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = upgraded(sqlite(tmp_path, "new.sqlite3"))
    last = SQLModel.metadata.sorted_tables[-1]
    original = script._copy_table

    def failing(reader: Any, writer: Any, table: Table) -> int:
        if table is last:
            raise script.CopyError("disk full")
        return original(reader, writer, table)

    monkeypatch.setattr(script, "_copy_table", failing)
    assert script.main([source, target]) == 1
    engine = make_engine(target)
    try:
        assert all(rows == [] for rows in contents(engine).values())
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_copies_into_postgresql_and_moves_the_id_sequences_on(
    script: ModuleType, source: str
) -> None:
    with pg_schema_url() as target:
        upgraded(target)
        assert script.main([source, target]) == 0
        a, b = make_engine(source), make_engine(target)
        try:
            assert contents(b) == contents(a)
            integer_keyed = [
                t
                for t in SQLModel.metadata.sorted_tables
                if [type(c.type) for c in t.primary_key.columns] == [Integer]
            ]
            assert integer_keyed
            with b.begin() as connection:
                for table in integer_keyed:
                    row = {c.name: value(c, ROWS + 1) for c in table.columns if not c.primary_key}
                    new_id = connection.execute(
                        insert(table).values(row).returning(*table.primary_key.columns)
                    ).scalar_one()
                    assert new_id == ROWS + 1, table.name
        finally:
            a.dispose()
            b.dispose()
