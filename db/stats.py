"""Row and entity counts of the whole gateway, in one statement.

Fact tables are not counted row by row on each call: every ingest batch adds
what it inserted to ``row_counts`` and retention subtracts what it dropped,
in their own transactions, so the sums are exact. Entity and quarantine
tables are small and counted directly. A caller confined to some resources
gets the counts of their rows only, counted directly (its index narrows the scan).
"""

from __future__ import annotations

import random
from collections.abc import Collection

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from db import tables
from db.quarantine import owned_by

_SLOTS = 8
# Each counted table, and the column naming the resource a row belongs to.
_KEPT: dict[str, tuple[Table, str]] = {
    "product_events": (tables.product_events, "product_id"),
    "api_requests": (tables.api_requests, "endpoint"),
    "predictions": (tables.predictions, "model_id"),
    "metric_samples": (tables.metric_samples, "name"),
}
_COUNTED: dict[str, tuple[Table, str | None]] = {
    "products": (tables.products, "id"),
    "endpoints": (tables.endpoints, "name"),
    "models": (tables.models, "id"),
    "quarantined": (tables.quarantine, None),
}


async def add_rows(conn: AsyncConnection, table_name: str, rows: int) -> None:
    """Record that rows were added to (or, negative, removed from) a fact table."""
    counts = tables.row_counts
    statement = insert(counts).values(
        table_name=table_name, slot=random.randrange(_SLOTS), rows=rows
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[counts.c.table_name, counts.c.slot],
            set_={"rows": counts.c.rows + statement.excluded.rows},
        )
    )


def _confined(table: Table, column: str | None, only: Collection[str]) -> ColumnElement[bool]:
    if column is None:
        return owned_by(only)
    return table.c[column].in_(sorted(only))


def _counted(table: Table, column: str | None, only: Collection[str] | None) -> ColumnElement[int]:
    counted = select(func.count()).select_from(table)
    if only is not None:
        counted = counted.where(_confined(table, column, only))
    return counted.scalar_subquery()


def _kept(table: Table) -> ColumnElement[int]:
    counts = tables.row_counts
    return (
        select(func.coalesce(func.sum(counts.c.rows), 0))
        .where(counts.c.table_name == table.name)
        .scalar_subquery()
    )


async def gateway_counts(
    conn: AsyncConnection, only: Collection[str] | None = None
) -> dict[str, int]:
    """Exact row counts of every fact, entity and quarantine table; only the rows of
    the resources in `only` when it is given."""
    columns = [
        (_kept(table) if only is None else _counted(table, column, only)).label(name)
        for name, (table, column) in _KEPT.items()
    ]
    columns += [
        _counted(table, column, only).label(name) for name, (table, column) in _COUNTED.items()
    ]
    row = (await conn.execute(select(*columns))).mappings().one()
    return {name: int(row[name]) for name in (*_KEPT, *_COUNTED)}
