"""Rollups at work: kept up to date by each ingest batch, and read by the compiler.

Maintenance is one ``INSERT ... SELECT ... GROUP BY`` per rollup table and
batch, over exactly the rows the batch inserted, appended beside the stored
rollup rows (db.compaction folds them later): the ingest writer runs them as
CTEs of its own INSERT (db.ingest.bulk), so the rows never travel to Python
and back; `load` runs them once per segment of many chunks, over the inserted
rows it kept (db.ingest.segment).

A question is split into whole days (daily rollup), whole hours at the edges
(hourly rollup) and the minutes left over (raw rows), merged part by part in
one statement, so the answer is the raw answer (percentiles within the
sketch's bound). A question grouped or filtered by one dimension reads that
dimension's rows (stored_rows). Percentiles and distinct counts leave the
statement as a group's sketches and sets, which db.aggregates finishes in
Python. That statement is built once per question shape, its times and
entity ids left as bind parameters (rolled_statement).

Rows updated in place (a prediction's recorded actual) move their rollups
with changed(): what they held is appended negated, what they hold now added.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Column,
    FromClause,
    Select,
    String,
    Table,
    and_,
    bindparam,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.sql import visitors
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ColumnElement

from db import sketch
from db.compiler import (
    AggregateQuery,
    Fact,
    dimension_value,
    filter_clauses,
    grouped_statement,
)
from db.hash_sets import joined
from db.rollups import KEY, TOTALS, Grain, Part, Rollup, aligned

Span = tuple[datetime, datetime]


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


def _append(
    fact: Fact,
    rollup: Rollup,
    grain: Grain,
    source: FromClause,
    moved: bool = False,
    taken_back: bool = False,
) -> Insert:
    """INSERT the grain's rollup rows of the rows in source, beside the stored ones
    (moved: of rows an update changed, the settled parts left out; taken back:
    rows that cancel what the rows of source added)."""
    bucket = func.date_trunc(grain.unit, _over(fact.time, fact, source), "UTC")
    entity = _over(fact.entity, fact, source)

    def value(part: Part) -> ColumnElement[Any]:
        if not part.kept(grain) or (moved and part.settled):
            return part.nothing()
        raw = _over(part.raw, fact, source)
        return part.negated(raw) if taken_back else raw

    parts = [value(p).label(name) for name, p in rollup.parts.items()]
    # A dimension's groups hold no totals-only part (a set of users per country, device
    # and event type would be stored four more times and read by no question).
    by_dimension = [
        p.nothing().label(name) if p.totals_only else value(p).label(name)
        for name, p in rollup.parts.items()
    ]
    groupings = [
        select(
            entity.label("entity"),
            literal(TOTALS).label("dimension"),
            literal("").label("group_key"),
            bucket.label("bucket"),
            *parts,
        ).group_by(entity, bucket)
    ]
    for grouping, dimension in fact.dimensions.items() if grain.by_dimension else ():
        key = dimension_value(_over(dimension, fact, source))
        groupings.append(
            select(entity, literal(grouping), key, bucket, *by_dimension).group_by(
                entity, key, bucket
            )
        )
    return insert(grain.table).from_select([*KEY, *rollup.parts], union_all(*groupings))


# For a transaction that appends a large source's rollups (a load's segment). The
# planner cannot estimate the groups of (entity, date_trunc(...)) keys, takes
# every row for a group, and sorts the source by text once per grouping; the
# groups are few, so hashing is the cheaper plan: 500,000 product events' daily
# rows took 3.2 s instead of 6.2 s (a 5,000-row batch's took the same either way).
HASHED_GROUPING = "SET LOCAL enable_sort = off"


def appends(fact: Fact, source: FromClause) -> list[Insert]:
    """The statements that add every row of source (the fact table's columns, or
    those of source_columns) to the fact's rollups, one per rollup table."""
    if fact.rollup is None:
        raise ValueError(f"{fact.name} declares no rollup")
    rollup = fact.rollup
    return [_append(fact, rollup, grain, source) for grain in rollup.grains]


def changed(fact: Fact, before: FromClause, after: FromClause) -> list[Insert]:
    """The statements that move the rollups of rows that were updated in place (a
    prediction's recorded actual): what the rows held before (before) is taken
    back, what they hold now (after) is added. Both hold the source columns."""
    if fact.rollup is None:
        raise ValueError(f"{fact.name} declares no rollup")
    rollup = fact.rollup
    return [
        _append(fact, rollup, grain, rows, moved=True, taken_back=rows is before)
        for rows in (before, after)
        for grain in rollup.grains
    ]


def backfill(fact: Fact) -> list[Insert]:
    """The statements that build the fact's rollups from every stored raw row."""
    return appends(fact, fact.entity.table)


def _usable(rollup: Rollup, query: AggregateQuery) -> tuple[Grain, ...]:
    """The grains that can hold this question's groups, coarsest first."""
    width = {"hour": 1, "day": 24}
    return tuple(
        grain
        for grain in rollup.grains
        if (not (query.group_by or query.filters) or grain.by_dimension)
        and (
            query.granularity is None
            or grain.step.total_seconds() <= 3600 * width[query.granularity]
        )
    )


def plan(
    grains: Sequence[Grain], start: datetime, end: datetime
) -> tuple[list[tuple[Grain, Span]], list[Span]]:
    """Split [start, end) into whole buckets of the coarsest grain, then finer ones at
    the edges, and the raw spans no grain covers."""
    if start >= end:
        return [], []
    if not grains:
        return [], [(start, end)]
    span = aligned(start, end, grains[0].step)
    if span is None:
        return plan(grains[1:], start, end)
    left = plan(grains[1:], start, span[0])
    right = plan(grains[1:], span[1], end)
    return [*left[0], (grains[0], span), *right[0]], [*left[1], *right[1]]


def answerable(fact: Fact, query: AggregateQuery) -> bool:
    """Whether rollups can answer query exactly, for at least one of its measures
    (measures that do not merge are still read from raw rows, in the same statement)."""
    rollup = fact.rollup
    return (
        rollup is not None
        # One dimension, or time buckets, or neither: the shapes the rollups hold.
        and len(query.group_by) <= 1
        and not (query.group_by and query.granularity)
        and _filtered_rollable(fact, query)
        and query.granularity in (None, "hour", "day")
        and bool(rolled_measures(rollup, query))
        and bool(plan(_usable(rollup, query), query.start, query.end)[0])
    )


def _filtered_rollable(fact: Fact, query: AggregateQuery) -> bool:
    """No filter, or one the rollups hold: values of the one dimension the question
    groups by, if it groups (a dimension's rows: a filter on "" finds the nulls too,
    as a breakdown's "" group holds them)."""
    if not query.filters:
        return True
    dimension = filtered_dimension(fact, query)
    return dimension is not None and query.group_by in ((), (dimension,))


def filtered_dimension(fact: Fact, query: AggregateQuery) -> str | None:
    """The dimension the question's only filter selects values of, if it is one (a
    text column, whose rollup group key is its value)."""
    if len(query.filters) != 1:
        return None
    key, values = query.filters[0]
    declared = fact.filters[key]
    if not values or not isinstance(declared, ColumnElement):
        return None
    if not all(isinstance(value, str) for value in values):
        return None
    found = [name for name, column in fact.dimensions.items() if column is declared]
    if not found or not isinstance(declared.type, String):
        return None
    return found[0]


def rolled_measures(rollup: Rollup, query: AggregateQuery) -> list[str]:
    """The question's measures the rollup answers, sorted (the rest come from raw rows):
    a distinct count only over an entity's totals (a dimension's groups hold no sets)."""
    return sorted(
        name
        for name in query.measures
        if name in rollup.measures
        and not (rollup.measures[name].counted_set and (query.group_by or query.filters))
    )


def percentiles(fact: Fact, query: AggregateQuery) -> dict[str, float]:
    """The measures of a rolled answer that arrive as sketches, and their fractions."""
    rollup = fact.rollup
    assert rollup is not None
    measures = {n: rollup.measures[n] for n in rolled_measures(rollup, query)}
    return {n: m.fraction for n, m in measures.items() if m.sketch}


def counted_sets(fact: Fact, query: AggregateQuery) -> list[str]:
    """The measures of a rolled answer that arrive as sets for the reader to count."""
    rollup = fact.rollup
    assert rollup is not None
    return [n for n in rolled_measures(rollup, query) if rollup.measures[n].counted_set]


def _keyed(query: AggregateQuery) -> bool:
    return bool(query.group_by) or query.granularity is not None


def _dimension(query: AggregateQuery) -> str | None:
    """The one dimension a rolled-up question groups by (answerable() allows one)."""
    return query.group_by[0] if query.group_by else None


def _key(query: AggregateQuery, fact: Fact, stored: FromClause | None) -> Any:
    """The group key of a raw row (stored None) or of a rollup row."""
    dimension = _dimension(query)
    if dimension is not None:
        return (
            stored.c.group_key if stored is not None else dimension_value(fact.dimension(dimension))
        )
    if query.granularity is not None:
        time = stored.c.bucket if stored is not None else fact.time
        return func.date_trunc(query.granularity, time, "UTC")
    return literal("")


@dataclass(frozen=True)
class _Bounds:
    """A question's values as named bind parameters, so that one statement serves
    every question of the same shape (db.aggregates passes the values)."""

    ids: Any
    start: Any
    end: Any
    spans: tuple[tuple[Grain, tuple[Any, Any]], ...]
    edges: tuple[tuple[Any, Any], ...]

    @classmethod
    def of(cls, fact: Fact, grains: Sequence[Grain], edges: int) -> _Bounds:
        time = fact.time.type

        def pair(name: str) -> tuple[Any, Any]:
            first, last = _bound_names(name)
            return bindparam(first, type_=time), bindparam(last, type_=time)

        return cls(
            bindparam("ids", expanding=True, type_=fact.entity.type),
            *pair("range"),
            tuple((grain, pair(f"span{i}")) for i, grain in enumerate(grains)),
            tuple(pair(f"edge{i}") for i in range(edges)),
        )


def _bound_names(name: str) -> tuple[str, str]:
    """The bind parameter names of one half-open [from, to) bound pair."""
    return f"{name}_from", f"{name}_to"


def _values(
    query: AggregateQuery, ids: Sequence[str], spans: Sequence[Any], edges: Sequence[Span]
) -> dict[str, Any]:
    """The bind values of _Bounds for one question."""
    values: dict[str, Any] = {"ids": list(ids)}
    named = [("range", (query.start, query.end))]
    named += [(f"span{i}", span) for i, (_, span) in enumerate(spans)]
    named += [(f"edge{i}", edge) for i, edge in enumerate(edges)]
    for name, bounds in named:
        values.update(zip(_bound_names(name), bounds, strict=True))
    return values


def stored_rows(
    fact: Fact, query: AggregateQuery, stored: Table, ids: Any, span: tuple[Any, Any]
) -> list[ColumnElement[bool]]:
    """The conditions that pick a question's rollup rows of one span: its entities,
    its grouping (the dimension it groups or filters by, else the totals) and, for
    a filter, its values, which are that dimension's group keys (filtered_dimension)."""
    grouping = _dimension(query) or filtered_dimension(fact, query) or TOTALS
    first, last = span
    return [
        stored.c.entity.in_(ids),
        stored.c.dimension == grouping,
        stored.c.bucket >= first,
        stored.c.bucket < last,
        *[stored.c.group_key.in_(list(values)) for _, values in query.filters],
    ]


def _pieces(
    fact: Fact,
    query: AggregateQuery,
    bounds: _Bounds,
    stored_columns: Callable[[FromClause], list[Any]],
    raw: tuple[list[Any], list[Any], list[Any]],
) -> list[Select[Any]]:
    """One SELECT per rollup span and one grouped SELECT per raw span, each of
    (entity, key, *columns); raw holds the raw SELECTs' columns, extra GROUP BY and WHERE.

    A raw span is a simple range of its own, not one arm of an OR: Postgres then
    reads it with an index-only scan of the entity and time index that covers the
    rolled columns (where a fact's table has one), instead of a bitmap scan that
    visits a heap page per row: 20 products' two edges of a 7-day range at 10M
    events, 6,300 rows, took 3 ms instead of 14-20.
    """
    selects = []
    for grain, span in bounds.spans:
        stored = grain.table
        selects.append(
            select(stored.c.entity, _key(query, fact, stored).label("key"), *stored_columns(stored))
            .select_from(stored)
            .where(*stored_rows(fact, query, stored, bounds.ids, span))
        )
    raw_columns, raw_group, raw_where = raw
    raw_where = [*raw_where, *filter_clauses(fact, query)]
    key = _key(query, fact, None)
    for first, last in bounds.edges:
        selects.append(
            select(fact.entity.label("entity"), key.label("key"), *raw_columns)
            .where(fact.entity.in_(bounds.ids), fact.time >= first, fact.time < last, *raw_where)
            .group_by(fact.entity, *([key] if _keyed(query) else []), *raw_group)
        )
    return selects


def rolled_statement(
    fact: Fact, query: AggregateQuery, entity_ids: Sequence[str]
) -> tuple[Select[Any], dict[str, Any]]:
    """The same statement as compile_aggregate, answered from rollups and raw edges,
    and its bind values.

    The statement depends on the question's shape only (its measures, grouping, and
    which grains cover its range in how many pieces), not on its times or entity
    ids, so it is built once per shape: building the expression for a 7-day
    overview took 3.3 ms of Python, and SQLAlchemy compiles a statement it has
    seen before from its cache.
    """
    rollup = fact.rollup
    if rollup is None:
        raise ValueError(f"{fact.name} declares no rollup")
    spans, edges = plan(_usable(rollup, query), query.start, query.end)
    shape = replace(query, start=_SHAPELESS, end=_SHAPELESS)
    statement = _shaped(fact, shape, tuple(grain for grain, _ in spans), len(edges))
    return statement, _values(query, entity_ids, spans, edges)


_SHAPELESS = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=512)
def _shaped(
    fact: Fact, query: AggregateQuery, grains: tuple[Grain, ...], edges: int
) -> Select[Any]:
    """The rolled statement of one shape, its values left as bind parameters."""
    rollup = fact.rollup
    assert rollup is not None
    bounds = _Bounds.of(fact, grains, edges)
    keyed = _keyed(query)
    rolled = rolled_measures(rollup, query)
    measures = [rollup.measures[name] for name in rolled]
    sets = {name: m.counted_set for name, m in zip(rolled, measures, strict=True) if m.counted_set}
    sketched = {name: m.sketch for name, m in zip(rolled, measures, strict=True) if m.sketch}
    wanted = {p for m in measures for p in m.parts} | set(sets.values()) | set(sketched.values())
    wanted |= {rollup.rank} if query.group_by else set()
    names = sorted(wanted)
    raw = [rollup.parts[n].raw.label(n) for n in names]
    pieces = _pieces(
        fact, query, bounds, lambda stored: [stored.c[n].label(n) for n in names], (raw, [], [])
    )
    partials = union_all(*pieces).subquery("partials")
    merged = {n: rollup.parts[n].merged(partials.c[n]) for n in names if n not in sets.values()}
    built = {
        name: rollup.measures[name].build(merged)  # type: ignore[misc]
        for name in rolled
        if rollup.measures[name].build is not None
    }
    # The group's sets as they are: db.aggregates counts their union (db.hash_sets).
    built |= {name: joined(partials.c[part]) for name, part in sets.items()}
    # A percentile's group sketch, its rows' entries one after another, as bytes:
    # db.aggregates reads the percentile from it (db.sketch.quantile).
    built |= {n: sketch.sent(func.sketch_cat(partials.c[p])) for n, p in sketched.items()}
    source: FromClause = partials
    exact = sorted(query.measures - set(rolled))
    for side in _exact(fact, query, bounds, exact):
        source = source.outerjoin(side, _same_group(partials, side, keyed))
        built |= {c.name: func.max(c) for c in side.c if c.name not in ("entity", "key")}
    bucket = partials.c.key if query.granularity is not None else None
    groups = [partials.c.key] if query.group_by else []
    rank = merged.get(rollup.rank, literal(0))
    return grouped_statement(query, partials.c.entity, bucket, groups, built, rank, [], source)


def _same_group(partials: FromClause, other: FromClause, keyed: bool) -> Any:
    joined = partials.c.entity == other.c.entity
    return and_(joined, partials.c.key == other.c.key) if keyed else joined


def _exact(fact: Fact, query: AggregateQuery, bounds: _Bounds, names: list[str]) -> list[Any]:
    """The measures without a mergeable form (a distinct count, a mode), from the
    range's raw rows in one grouped subquery (none when there are none)."""
    if not names:
        return []
    key = _key(query, fact, None)
    labelled = [fact.measures[n].expression.label(n) for n in names]
    return [
        select(fact.entity.label("entity"), key.label("key"), *labelled)
        .where(
            fact.entity.in_(bounds.ids),
            fact.time >= bounds.start,
            fact.time < bounds.end,
            *filter_clauses(fact, query),
        )
        .group_by(fact.entity, *([key] if _keyed(query) else []))
        .subquery("exact")
    ]
