"""page templates learned after a site redesign

Revision ID: 0005_templates
Revises: 0004_search
Create Date: 2026-12-06 19:20:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005_templates"
down_revision: str | Sequence[str] | None = "0004_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "page_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("exclude", sa.JSON(), nullable=False),
        sa.Column("learned_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("articles", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("retired_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("page_template", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_page_template_active"), ["active"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("page_template", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_page_template_active"))
    op.drop_table("page_template")
