"""Row and entity counts of the whole gateway, in one statement."""

from __future__ import annotations

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db import tables

_COUNTED: dict[str, Table] = {
    "product_events": tables.product_events,
    "api_requests": tables.api_requests,
    "predictions": tables.predictions,
    "metric_samples": tables.metric_samples,
    "products": tables.products,
    "endpoints": tables.endpoints,
    "models": tables.models,
    "quarantined": tables.quarantine,
}


async def gateway_counts(conn: AsyncConnection) -> dict[str, int]:
    """Exact row counts of every fact, entity and quarantine table."""
    columns = [
        select(func.count()).select_from(table).scalar_subquery().label(name)
        for name, table in _COUNTED.items()
    ]
    row = (await conn.execute(select(*columns))).mappings().one()
    return {name: int(row[name]) for name in _COUNTED}
