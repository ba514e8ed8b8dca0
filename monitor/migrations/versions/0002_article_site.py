"""articles carry their site

Revision ID: 0002_article_site
Revises: 0001
Create Date: 2026-12-06 19:10:00

Every article row names the site it belongs to (``CPHMON_SITE``), so that one database can hold
several sites later; rows of earlier versions are all The Copenhagen Post's.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002_article_site"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("article") as batch:
        batch.add_column(
            sa.Column(
                "site",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="cphpost",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("article") as batch:
        batch.drop_column("site")
