"""Raw fact rows of one entity, newest first, in keyset pages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from db.compiler import AggregateQuery, Fact, where_clauses

RowCursor = tuple[datetime, str]


async def newest_rows(
    conn: AsyncConnection,
    fact: Fact,
    entity_id: str,
    query: AggregateQuery,
    first: int,
    after: RowCursor | None,
) -> list[RowMapping]:
    """Up to first + 1 rows ordered by (time, id) descending, strictly after the cursor."""
    table = fact.time.table
    statement = (
        select(table)
        .where(*where_clauses(fact, query, [entity_id]))
        .order_by(fact.time.desc(), fact.row_id.desc())
        .limit(first + 1)
    )
    if after is not None:
        at, row_id = after
        statement = statement.where(
            or_(fact.time < at, and_(fact.time == at, fact.row_id < row_id))
        )
    return list((await conn.execute(statement)).mappings())


async def count_rows(
    conn: AsyncConnection, fact: Fact, entity_id: str, query: AggregateQuery
) -> int:
    """How many rows of the entity match the query's range and filters."""
    statement = select(func.count()).where(*where_clauses(fact, query, [entity_id]))
    return int((await conn.execute(statement)).scalar_one())


def cursor_of(fact: Fact, row: RowMapping) -> RowCursor:
    """The keyset position of a row, for the next page's `after`."""
    return row[fact.time.key], row[fact.row_id.key]
