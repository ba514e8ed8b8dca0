"""indexes for the web view: changes by time, alerts by change, PostgreSQL full text

Revision ID: 0004_search
Revises: 0003_source_validators
Create Date: 2026-12-06 19:30:00

The web view lists changes newest first and filters them by date (``ix_change_created_at``),
looks up the alerts a change caused (``ix_alert_change_id``), lists alerts newest first for
the Atom feeds (``ix_alert_created_at``) and, on PostgreSQL, searches every
version through a GIN index on the same expression ``monitor.web.search`` queries. SQLite's
full-text index is a side file of the web process (FTS5), not part of this schema.
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004_search"
down_revision: str | Sequence[str] | None = "0003_source_validators"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keep equal to monitor.web.search.PG_DOCUMENT: PostgreSQL uses the index only for this text.
PG_DOCUMENT = (
    "to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || "
    "coalesce(data ->> 'standfirst', '') || ' ' || coalesce(data ->> 'paragraphs', ''))"
)


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_change_created_at"), ["created_at"], unique=False)
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_change_id"), ["change_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_created_at"), ["created_at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_version_search ON version USING gin ({PG_DOCUMENT})")


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_version_search")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_created_at"))
        batch_op.drop_index(batch_op.f("ix_alert_change_id"))
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_created_at"))
