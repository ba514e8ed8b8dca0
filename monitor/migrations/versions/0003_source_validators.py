"""source validators and host deferral

Conditional discovery: the validators (ETag, Last-Modified) of every feed, sitemap index,
sitemap and robots.txt, the sitemap index's lastmod of each sitemap when it was last read, and
robots.txt's rules with their freshness. The shared rate-limit row also carries the time until
which the whole site asked us to wait (Retry-After) and why, so every worker honours it.

Revision ID: 0003_source_validators
Revises: 0002_article_site
Create Date: 2026-12-06 19:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003_source_validators"
down_revision: str | Sequence[str] | None = "0002_article_site"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "sourcevalidator",
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("etag", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("last_modified", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("marker", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("fresh_until", sa.Float(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("read_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("url"),
    )
    with op.batch_alter_table("ratelimit", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("blocked_until", sa.Float(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("blocked_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("ratelimit", schema=None) as batch_op:
        batch_op.drop_column("blocked_reason")
        batch_op.drop_column("blocked_until")
    op.drop_table("sourcevalidator")
