"""rollups: rows appended by each batch, folded by compaction

Ingest used to merge a batch into the stored rollup rows with INSERT ... ON
CONFLICT DO UPDATE, which cost about 95 µs per rollup row; it now appends its
rows, and compaction folds a key's rows into one (db.compaction). The key
stays, no longer unique; a partial index finds the keys with rows to fold.
Existing rows are one per key, so they are marked compacted.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from db.facts.all import FACTS
from db.rollups import COMPACTED, KEY
from db.sketch import CREATE

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tables() -> list[str]:
    return [
        grain.table.name
        for fact in FACTS
        if fact.rollup is not None
        for grain in fact.rollup.grains
    ]


def upgrade() -> None:
    for statement in CREATE:  # sketch_cat, the aggregate compaction merges sketches with
        op.execute(statement)
    for name in _tables():
        op.add_column(
            name, sa.Column(COMPACTED, sa.Boolean(), nullable=False, server_default=sa.true())
        )
        op.alter_column(name, COMPACTED, server_default=sa.false())
        op.drop_constraint(f"pk_{name}", name, type_="primary")
        op.create_index(f"ix_{name}_key", name, list(KEY))
        op.create_index(
            f"ix_{name}_pending", name, list(KEY), postgresql_where=sa.text(f"NOT {COMPACTED}")
        )


def downgrade() -> None:
    raise NotImplementedError("the rollups stay appended to: restore a 0007 backup instead")
