"""Raw fact rows of many entities, newest first, in keyset pages: one statement each."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from db.compiler import AggregateQuery, Fact, where_clauses

RowCursor = tuple[datetime, str]


@dataclass(frozen=True)
class RowsQuestion:
    """Which rows of a fact: the query's range and filters, a page size and position."""

    fact: Fact
    query: AggregateQuery
    first: int = 0
    after: RowCursor | None = None


async def newest_rows(
    conn: AsyncConnection, question: RowsQuestion, entity_ids: Sequence[str]
) -> dict[str, list[RowMapping]]:
    """Per entity, up to first + 1 rows ordered by (time, id) descending, strictly after
    the cursor."""
    fact = question.fact
    table = fact.time.table
    clauses = where_clauses(fact, question.query, entity_ids)
    if question.after is not None:
        at, row_id = question.after
        clauses.append(or_(fact.time < at, and_(fact.time == at, fact.row_id < row_id)))
    position = func.row_number().over(
        partition_by=fact.entity, order_by=[fact.time.desc(), fact.row_id.desc()]
    )
    ranked = select(table, position.label("position")).where(*clauses).subquery("ranked")
    statement = (
        select(*[ranked.c[column.key] for column in table.c])
        .where(ranked.c.position <= question.first + 1)
        .order_by(ranked.c[fact.entity.key], ranked.c.position)
    )
    found: dict[str, list[RowMapping]] = defaultdict(list)
    for row in (await conn.execute(statement)).mappings():
        found[row[fact.entity.key]].append(row)
    return {entity_id: found.get(entity_id, []) for entity_id in entity_ids}


async def count_rows(
    conn: AsyncConnection, question: RowsQuestion, entity_ids: Sequence[str]
) -> dict[str, int]:
    """Per entity, how many rows match the query's range and filters."""
    fact = question.fact
    statement = (
        select(fact.entity, func.count())
        .where(*where_clauses(fact, question.query, entity_ids))
        .group_by(fact.entity)
    )
    counts = {entity: int(count) for entity, count in (await conn.execute(statement)).all()}
    return {entity_id: counts.get(entity_id, 0) for entity_id in entity_ids}


def cursor_of(fact: Fact, row: RowMapping) -> RowCursor:
    """The keyset position of a row, for the next page's `after`."""
    return row[fact.time.key], row[fact.row_id.key]
