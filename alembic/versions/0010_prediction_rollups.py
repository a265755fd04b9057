"""rollups: predictions get hourly and daily rollups, by environment and version too

Model metrics (counts, RMSE, MAE, MAPE, bias, averages) are sums over rows or
over labeled rows, so a model's hours and days keep those sums (db.facts.predictions);
a recorded actual moves them (db.rolled.changed). A new database has the tables
already (0002 builds every declared rollup); one upgraded from 0009 gets them
here. Either way they are rebuilt from the stored predictions: on a large
database that takes a while (one scan of the predictions per rollup table).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

from alembic import op
from db.facts.predictions import PREDICTIONS
from db.rolled import backfill

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    assert PREDICTIONS.rollup is not None
    for grain in PREDICTIONS.rollup.grains:
        grain.table.create(op.get_bind(), checkfirst=True)
        op.execute(f"DELETE FROM {grain.table.name}")
    for statement in backfill(PREDICTIONS):
        op.execute(statement)


def downgrade() -> None:
    for name in ("predictions_daily", "predictions_hourly"):
        op.execute(f"DROP TABLE {name}")
