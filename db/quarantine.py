"""Reading the quarantine of rejected ingest rows, newest first."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from db.tables import quarantine as q

# The raw field naming the resource of each kind's rows (actuals name only a
# prediction, so a confined caller sees none of them).
RESOURCE_KEYS = {
    "PRODUCT_EVENT": "productId",
    "API_REQUEST": "endpoint",
    "PREDICTION": "modelId",
    "METRIC_SAMPLE": "name",
}


def owned_by(only: Collection[str]) -> ColumnElement[bool]:
    """Quarantined rows whose raw input names one of the resources in `only`."""
    ids = sorted(only)
    if not ids:
        return false()
    return or_(
        *[
            and_(q.c.kind == kind, q.c.raw[key].astext.in_(ids))
            for kind, key in RESOURCE_KEYS.items()
        ]
    )


def _where(
    kind: str | None, start: datetime, end: datetime, only: Collection[str] | None
) -> list[ColumnElement[bool]]:
    clauses = [q.c.received_at >= start, q.c.received_at < end]
    if kind is not None:
        clauses.append(q.c.kind == kind)
    if only is not None:
        clauses.append(owned_by(only))
    return clauses


async def quarantined_page(
    conn: AsyncConnection,
    kind: str | None,
    start: datetime,
    end: datetime,
    first: int,
    after: tuple[datetime, int] | None,
    only: Collection[str] | None = None,
) -> list[RowMapping]:
    """Up to first + 1 quarantined rows ordered by (received_at, id) descending
    (of the resources in `only` when it is given)."""
    statement = (
        select(q)
        .where(*_where(kind, start, end, only))
        .order_by(q.c.received_at.desc(), q.c.id.desc())
        .limit(first + 1)
    )
    if after is not None:
        at, row_id = after
        statement = statement.where(
            or_(q.c.received_at < at, and_(q.c.received_at == at, q.c.id < row_id))
        )
    return list((await conn.execute(statement)).mappings())


async def count_quarantined(
    conn: AsyncConnection,
    kind: str | None,
    start: datetime,
    end: datetime,
    only: Collection[str] | None = None,
) -> int:
    """How many quarantined rows match."""
    statement = select(func.count()).select_from(q).where(*_where(kind, start, end, only))
    return int((await conn.execute(statement)).scalar_one())
