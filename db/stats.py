"""Row and entity counts of the whole gateway, in one statement."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from db import tables
from db.quarantine import owned_by

# Each counted table, and the column naming the resource a row belongs to.
_COUNTED: dict[str, tuple[Table, str | None]] = {
    "product_events": (tables.product_events, "product_id"),
    "api_requests": (tables.api_requests, "endpoint"),
    "predictions": (tables.predictions, "model_id"),
    "metric_samples": (tables.metric_samples, "name"),
    "products": (tables.products, "id"),
    "endpoints": (tables.endpoints, "name"),
    "models": (tables.models, "id"),
    "quarantined": (tables.quarantine, None),
}


def _confined(table: Table, column: str | None, only: Collection[str]) -> ColumnElement[bool]:
    if column is None:
        return owned_by(only)
    return table.c[column].in_(sorted(only))


async def gateway_counts(
    conn: AsyncConnection, only: Collection[str] | None = None
) -> dict[str, int]:
    """Exact row counts of every fact, entity and quarantine table; only the rows of
    the resources in `only` when it is given."""
    columns = []
    for name, (table, column) in _COUNTED.items():
        counted = select(func.count()).select_from(table)
        if only is not None:
            counted = counted.where(_confined(table, column, only))
        columns.append(counted.scalar_subquery().label(name))
    row = (await conn.execute(select(*columns))).mappings().one()
    return {name: int(row[name]) for name in _COUNTED}
