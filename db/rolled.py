"""Rollups at work: kept up to date by each ingest batch, and read by the compiler.

Maintenance is one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` per batch,
in the batch's transaction, over exactly the rows the batch inserted. A
question is answered from the rollup rows of its whole hours plus the raw
rows of its unaligned edges, merged part by part, so the answer is the raw
answer (percentiles within the sketch's bound).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    Column,
    FromClause,
    Select,
    and_,
    bindparam,
    column,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import visitors
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ColumnElement

from db.compiler import AggregateQuery, Fact, dimension_value, grouped_statement
from db.rollups import TOTALS, Rollup, aligned


def source_columns(fact: Fact) -> tuple[str, ...]:
    """The fact table's columns its rollup is computed from."""
    if fact.rollup is None:
        return ()
    table = fact.entity.table
    expressions = [fact.entity, fact.time, *fact.dimensions.values()]
    expressions += [p.raw for p in fact.rollup.parts.values()]
    names: set[str] = set()
    for expression in expressions:
        for element in visitors.iterate(expression):
            if isinstance(element, Column) and element.table is table:
                names.add(element.name)
    return tuple(sorted(names))


def _over(expression: ColumnElement[Any], fact: Fact, source: FromClause) -> Any:
    """expression with the fact table's columns read from source instead."""
    table = fact.entity.table

    def swap(element: Any, **_: Any) -> Any:
        if isinstance(element, Column) and element.table is table:
            return source.c[element.name]
        return None

    return visitors.replacement_traverse(expression, {}, swap)


def _upsert(fact: Fact, rollup: Rollup, source: FromClause) -> Insert:
    """INSERT the rollup rows of every row in source, adding them to stored ones."""
    bucket = func.date_trunc("hour", _over(fact.time, fact, source), "UTC")
    entity = _over(fact.entity, fact, source)
    parts = [_over(p.raw, fact, source).label(name) for name, p in rollup.parts.items()]
    groupings = [
        select(
            entity.label("entity"),
            literal(TOTALS).label("dimension"),
            literal("").label("group_key"),
            bucket.label("bucket"),
            *parts,
        ).group_by(entity, bucket)
    ]
    for grouping, dimension in fact.dimensions.items():
        key = dimension_value(_over(dimension, fact, source))
        groupings.append(
            select(entity, literal(grouping), key, bucket, *parts).group_by(entity, key, bucket)
        )
    # Sorted so that concurrent batches lock shared rollup rows in the same order.
    rows = union_all(*groupings)
    rows = rows.order_by(*list(rows.selected_columns)[:4])
    target = rollup.table
    statement = insert(target).from_select([c.name for c in target.c], rows)
    return statement.on_conflict_do_update(
        index_elements=list(target.primary_key.columns),
        set_={
            name: p.combined(target.c[name], statement.excluded[name])
            for name, p in rollup.parts.items()
        },
    )


async def roll_up(conn: AsyncConnection, fact: Fact, inserted: Sequence[RowMapping]) -> None:
    """Add the rows a batch just inserted to the fact's rollup (once per batch)."""
    if fact.rollup is None or not inserted:
        return
    table = fact.entity.table
    names = source_columns(fact)
    arrays = [
        bindparam(f"rows_{name}", [row[name] for row in inserted], type_=ARRAY(table.c[name].type))
        for name in names
    ]
    source = (
        func.unnest(*arrays)
        .table_valued(*[column(name, table.c[name].type) for name in names])
        .render_derived(name="inserted")
    )
    await conn.execute(_upsert(fact, fact.rollup, source))


def backfill(fact: Fact) -> Insert:
    """The statement that builds the fact's rollup from every stored raw row."""
    if fact.rollup is None:
        raise ValueError(f"{fact.name} declares no rollup")
    return _upsert(fact, fact.rollup, fact.entity.table)


def answerable(fact: Fact, query: AggregateQuery) -> bool:
    """Whether the rollup can answer query exactly (else raw rows answer it)."""
    rollup = fact.rollup
    return (
        rollup is not None
        and not query.filters
        and query.granularity in (None, "hour", "day")
        and all(name in rollup.measures for name in query.measures)
        and aligned(query.start, query.end) is not None
    )


def compile_rolled(fact: Fact, query: AggregateQuery, entity_ids: Sequence[str]) -> Select[Any]:
    """The same statement as compile_aggregate, answered from the rollup and raw edges."""
    rollup = fact.rollup
    span = aligned(query.start, query.end)
    if rollup is None or span is None:
        raise ValueError("the rollup cannot answer this question; check answerable()")
    first, last = span
    stored = rollup.table.c
    ids = list(entity_ids)
    raw_key: ColumnElement[Any] = literal("")
    stored_key: ColumnElement[Any] = literal("")
    grouping = TOTALS
    keyed = query.group_by is not None or query.granularity is not None
    if query.group_by is not None:
        grouping = query.group_by
        raw_key, stored_key = dimension_value(fact.dimensions[grouping]), stored.group_key
    elif query.granularity is not None:
        raw_key = func.date_trunc(query.granularity, fact.time, "UTC")
        stored_key = func.date_trunc(query.granularity, stored.bucket, "UTC")
    wanted = {part for name in query.measures for part in rollup.measures[name].parts}
    if query.group_by is not None:
        wanted.add(rollup.rank)
    names = sorted(wanted)
    from_rollup = select(
        stored.entity, stored_key.label("key"), *[stored[n].label(n) for n in names]
    ).where(
        stored.entity.in_(ids),
        stored.dimension == grouping,
        stored.bucket >= first,
        stored.bucket < last,
    )
    edges = or_(
        and_(fact.time >= query.start, fact.time < first),
        and_(fact.time >= last, fact.time < query.end),
    )
    from_raw = (
        select(
            fact.entity.label("entity"),
            raw_key.label("key"),
            *[rollup.parts[n].raw.label(n) for n in names],
        )
        .where(fact.entity.in_(ids), edges)
        .group_by(fact.entity, *([raw_key] if keyed else []))
    )
    partials = union_all(from_rollup, from_raw).subquery("partials")
    merged = {n: rollup.parts[n].merged(partials.c[n]) for n in names}
    measures = {name: rollup.measures[name].build(merged) for name in query.measures}
    key = partials.c.key if keyed else None
    rank = merged.get(rollup.rank, literal(0))
    return grouped_statement(query, partials.c.entity, key, measures, rank, [])
