"""Row and entity counts of the whole gateway, in one statement.

Fact tables are not counted row by row on each call: every ingest batch adds
what it inserted to ``row_counts`` and retention subtracts what it dropped,
in their own transactions, so the sums are exact. Entity and quarantine
tables are small and counted directly.
"""

from __future__ import annotations

import random

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from db import tables

_SLOTS = 8
_KEPT: dict[str, Table] = {
    "product_events": tables.product_events,
    "api_requests": tables.api_requests,
    "predictions": tables.predictions,
    "metric_samples": tables.metric_samples,
}
_COUNTED: dict[str, Table] = {
    "products": tables.products,
    "endpoints": tables.endpoints,
    "models": tables.models,
    "quarantined": tables.quarantine,
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


async def gateway_counts(conn: AsyncConnection) -> dict[str, int]:
    """Exact row counts of every fact, entity and quarantine table."""
    counts = tables.row_counts
    kept = [
        select(func.coalesce(func.sum(counts.c.rows), 0))
        .where(counts.c.table_name == table.name)
        .scalar_subquery()
        .label(name)
        for name, table in _KEPT.items()
    ]
    counted = [
        select(func.count()).select_from(table).scalar_subquery().label(name)
        for name, table in _COUNTED.items()
    ]
    row = (await conn.execute(select(*kept, *counted))).mappings().one()
    return {name: int(row[name]) for name in (*_KEPT, *_COUNTED)}
