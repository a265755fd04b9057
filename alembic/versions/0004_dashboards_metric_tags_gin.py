"""dashboards, and a GIN index on metric_samples.tags

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-26 15:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_metric_samples_tags"), "metric_samples", ["tags"], postgresql_using="gin"
    )
    op.create_table(
        "dashboards",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("is_public", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("widgets", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboards")),
    )
    op.create_index(op.f("ix_dashboards_owner"), "dashboards", ["owner"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dashboards_owner"), table_name="dashboards")
    op.drop_table("dashboards")
    op.drop_index(op.f("ix_metric_samples_tags"), table_name="metric_samples")
