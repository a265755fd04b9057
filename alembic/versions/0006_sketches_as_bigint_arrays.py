"""rollup sketches as bigint arrays of (bin, count) entries

A database that 0002 gave jsonb {bin: count} sketches gets them converted in
place; on a new one 0002 already created the arrays (it builds the rollup
tables from the current declarations), so there is nothing to convert.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from db.facts.all import FACTS
from db.rollups import SKETCH
from db.sketch import CREATE

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FROM_JSONB = """
CREATE FUNCTION pg_temp.sketch_from_jsonb(sketch jsonb) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT array_agg((k::bigint << 32) | v::bigint ORDER BY k::integer)
  FROM jsonb_each_text(sketch) AS e(k, v)
$$"""


def upgrade() -> None:
    for statement in CREATE:
        op.execute(statement)
    op.execute(_FROM_JSONB)
    inspector = sa.inspect(op.get_bind())
    for fact in FACTS:
        rollup = fact.rollup
        if rollup is None:
            continue
        sketches = [name for name, part in rollup.parts.items() if part.merge == SKETCH]
        for grain in rollup.grains:
            types = {c["name"]: c["type"] for c in inspector.get_columns(grain.table.name)}
            for name in sketches:
                if isinstance(types[name], sa.JSON):
                    op.execute(
                        f'ALTER TABLE "{grain.table.name}" ALTER COLUMN "{name}" TYPE bigint[] '
                        f'USING pg_temp.sketch_from_jsonb("{name}")'
                    )
    op.execute("DROP FUNCTION IF EXISTS sketch_add(jsonb, jsonb)")
    op.execute("DROP FUNCTION IF EXISTS sketch_pack(integer[])")


def downgrade() -> None:
    raise NotImplementedError("the sketches stay arrays: restore a 0005 backup instead")
