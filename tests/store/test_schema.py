"""The migrations build exactly the tables the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlmodel import SQLModel

import monitor.models  # noqa: F401  (registers the tables)
from monitor.db import alembic_config, head_revision

# Indexes on an expression, which a model cannot declare: made by their migration only.
EXPRESSION_INDEXES = {"ix_version_search"}  # 0004_search: PostgreSQL full text (monitor/web)


def _expression_index(difference: object) -> bool:
    return (
        isinstance(difference, tuple)
        and difference[0] == "remove_index"
        and difference[1].name in EXPRESSION_INDEXES
    )


def test_the_migrations_form_one_line_of_revisions() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))

    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1


def test_a_database_at_head_has_exactly_the_models_tables_and_columns(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        assert context.get_current_revision() == head_revision()
        differences = [
            d for d in compare_metadata(context, SQLModel.metadata) if not _expression_index(d)
        ]

    assert differences == []
