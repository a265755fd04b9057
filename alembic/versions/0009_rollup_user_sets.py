"""rollups: the set of each bucket's users, so overviews count distinct users from them

An entity's totals rows of the product rollups get ``users``, the sorted
distinct 64-bit hashes of the bucket's user ids (db.hash_sets), so the count of
unique users over a range is the size of its buckets' union instead of a
distinct count over every raw row of the range. Stored without compression
(random hashes do not compress, and Postgres would try on every write). The
function compaction merges them with is created, and the product rollups are
rebuilt from the raw rows so every stored row has its set: on a large
database that takes minutes (appending rollups cost about 11 s per million
random-history events), and the first compaction pass rewrites the rebuilt
rows once more.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 05:30:00
"""

from collections.abc import Sequence

from alembic import op
from db.facts.product_events import PRODUCT_EVENTS
from db.hash_sets import CREATE
from db.rolled import backfill

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMN = "users"


def upgrade() -> None:
    for statement in CREATE:
        op.execute(statement)
    assert PRODUCT_EVENTS.rollup is not None
    for grain in PRODUCT_EVENTS.rollup.grains:
        # 0002 builds a new database's rollup tables as declared now, with the column.
        name = grain.table.name
        op.execute(f"ALTER TABLE {name} ADD COLUMN IF NOT EXISTS {_COLUMN} bytea")
        op.execute(f"ALTER TABLE {name} ALTER COLUMN {_COLUMN} SET STORAGE EXTERNAL")
        op.execute(f"DELETE FROM {name}")
    for statement in backfill(PRODUCT_EVENTS):
        op.execute(statement)


def downgrade() -> None:
    for statement in (
        "ALTER TABLE product_events_daily DROP COLUMN users",
        "ALTER TABLE product_events_hourly DROP COLUMN users",
        "DROP FUNCTION hash_set_union(bytea[])",
    ):
        op.execute(statement)
