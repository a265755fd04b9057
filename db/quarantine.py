"""Reading the quarantine of rejected ingest rows, newest first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from db.tables import quarantine as q


def _where(kind: str | None, start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    clauses = [q.c.received_at >= start, q.c.received_at < end]
    if kind is not None:
        clauses.append(q.c.kind == kind)
    return clauses


async def quarantined_page(
    conn: AsyncConnection,
    kind: str | None,
    start: datetime,
    end: datetime,
    first: int,
    after: tuple[datetime, int] | None,
) -> list[RowMapping]:
    """Up to first + 1 quarantined rows ordered by (received_at, id) descending."""
    statement = (
        select(q)
        .where(*_where(kind, start, end))
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
    conn: AsyncConnection, kind: str | None, start: datetime, end: datetime
) -> int:
    """How many quarantined rows match."""
    statement = select(func.count()).select_from(q).where(*_where(kind, start, end))
    return int((await conn.execute(statement)).scalar_one())
