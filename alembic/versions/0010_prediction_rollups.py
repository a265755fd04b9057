"""rollups: predictions get hourly and daily rollups, by environment and version too

Model metrics (counts, RMSE, MAE, MAPE, bias, averages) are sums over rows or
over labeled rows, so a model's hours and days keep those sums (db.facts.predictions);
a recorded actual moves them (db.rolled.changed). Hourly rows also keep their
predicted values, 8 bytes each, for drift's PSI. A new database has the tables
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

_VALUES = "predicted_values"


def upgrade() -> None:
    assert PREDICTIONS.rollup is not None
    for grain in PREDICTIONS.rollup.grains:
        grain.table.create(op.get_bind(), checkfirst=True)
        # Floats do not compress: Postgres would try on every write.
        op.execute(f"ALTER TABLE {grain.table.name} ALTER COLUMN {_VALUES} SET STORAGE EXTERNAL")
        op.execute(f"DELETE FROM {grain.table.name}")
    for statement in backfill(PREDICTIONS):
        op.execute(statement)


def downgrade() -> None:
    for name in ("predictions_daily", "predictions_hourly"):
        op.execute(f"DROP TABLE {name}")
