"""Run compiled aggregate statements and split their rows per entity."""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from psycopg import AsyncCursor
from psycopg.pq import Format
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from db.compiler import AggregateQuery, Fact, compile_aggregate, compile_top_errors
from db.hash_sets import HASH_BYTES, count_union
from db.rolled import answerable, counted_sets, percentiles, rolled_statement
from db.sketch import quantile


class Group(NamedTuple):
    """One row of an answer and its measures.

    ``key`` is the bucket of a timeseries, else the first dimension value (None
    when ungrouped); ``dimensions`` holds every group_by value in order. A named
    tuple, not a frozen dataclass: made once per row, it costs half as much.
    """

    key: Any
    values: dict[str, Any]
    dimensions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ErrorRow:
    """One ranked error label of an entity."""

    error: str
    count: int
    share: float
    last_seen: datetime


# An answer that counts distinct users reads every group's sets, about 400 KB per
# product and week at 10M events, most of it from TOAST: 20 products' week is 8 MB,
# which one backend reads and aggregates alone while the other cores wait. Such a
# question over many entities runs as _SHARES statements over as many shares of
# them, side by side on connections of their own (each entity's answer is its own:
# the shares' answers are the answer). The statement of 20 products' week took
# 23.9 ms p50 whole and 17.4 in two halves on two connections (2 cores).
_SHARES = 2
_SHARED_FROM = 8  # entities; fewer are not worth a second statement


def shares(fact: Fact, query: AggregateQuery, entity_ids: Sequence[str]) -> list[Sequence[str]]:
    """The entities of a question in the shares fetch_groups answers side by side:
    one share, unless the answer counts distinct users over many entities."""
    if len(entity_ids) < _SHARED_FROM or not answerable(fact, query):
        return [entity_ids]
    if not counted_sets(fact, query):
        return [entity_ids]
    size = -(-len(entity_ids) // _SHARES)  # rounded up
    return [entity_ids[i : i + size] for i in range(0, len(entity_ids), size)]


async def fetch_groups(
    conn: AsyncConnection,
    fact: Fact,
    query: AggregateQuery,
    entity_ids: Sequence[str],
    *,
    raw: bool = False,
) -> dict[str, list[Group]]:
    """Groups per entity id; an entity without matching rows maps to an empty list.

    Answered from the fact's rollup where it can answer exactly, else (or when
    raw is set) from raw rows; the answers are the same either way.
    """
    result: dict[str, list[Group]] = defaultdict(list)
    rolled = not raw and answerable(fact, query)
    sets: list[str] = []
    sketches: dict[str, float] = {}
    if rolled:
        statement, values = rolled_statement(fact, query, entity_ids)
        if query.granularity is not None:
            await conn.execute(_SERIAL)
        sets, sketches = counted_sets(fact, query), percentiles(fact, query)
        if sets or sketches:
            async with binary_results(conn):
                rows = await conn.execute(statement, values)
        else:
            rows = await conn.execute(statement, values)
    else:
        rows = await conn.execute(compile_aggregate(fact, query, entity_ids))
    groups = _groups(rows.keys(), rows.all(), query, sketches)
    for entity_id, group in groups:
        result[entity_id].append(group)
    if sets:
        await _count_sets([group for _, group in groups], sets)
    return {entity_id: result.get(entity_id, []) for entity_id in entity_ids}


def _groups(
    columns: Sequence[str], rows: Sequence[Any], query: AggregateQuery, sketches: dict[str, float]
) -> list[tuple[str, Group]]:
    """Each row's entity id and group, read by position: a 30-day hourly timeseries
    is 720 rows, and reading each one as a mapping by name (and its dimensions
    through a generator) took about 3 ms more than the statement."""
    at = {name: position for position, name in enumerate(columns)}
    entity = at["entity_id"]
    dimensions = [at[f"group_{i}"] for i in range(len(query.group_by))]
    measures = [(name, at[name]) for name in query.measures]
    bucket = at["bucket"] if query.granularity else None
    groups = []
    for row in rows:
        grouped = tuple(row[i] for i in dimensions) if dimensions else ()
        key = row[bucket] if bucket is not None else grouped[0] if grouped else None
        values = {name: row[i] for name, i in measures}
        for name, fraction in sketches.items():
            values[name] = quantile(values[name], fraction)
        groups.append((row[entity], Group(key, values, grouped)))
    return groups


# A timeseries from rollups is read without parallel workers (for the rest of the
# connection's transaction, which ends with the question): Postgres started two to
# group a 30-day hourly timeseries' 720 rollup rows, and starting them took longer
# than the work (at 10M events the statement took 3 ms, 14 ms with the workers;
# its p95 over 200 random ranges went from 11-20 to 7 ms without them).
_SERIAL = text("SET LOCAL max_parallel_workers_per_gather = 0")


class _BinaryCursor(AsyncCursor[Any]):
    """A cursor whose results come in binary (Postgres's send format)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.format = Format.BINARY


@asynccontextmanager
async def binary_results(conn: AsyncConnection) -> AsyncIterator[None]:
    """Statements run on conn meanwhile return binary results.

    For the statements that return bytes: the sets of distinct users
    (db.hash_sets), the sketches sent by array_send (db.sketch) and the
    predicted values of drift's PSI (db.models). In text, a bytea comes as hex
    twice its size for psycopg to decode. At ten million events (A/B, 60 calls
    each) products(first: 20) over 7 days went from 133-145 to 123-127 ms p50
    and a 30-day overview from 37.5 to 30. SQLAlchemy
    still converts every value as it would (the Python types of psycopg's
    binary and text loaders are the same); the connection gets its own cursor
    factory back before it returns to the pool.
    """
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None  # a checked-out connection
    previous = driver.cursor_factory
    driver.cursor_factory = _BinaryCursor
    try:
        yield
    finally:
        driver.cursor_factory = previous


# Hashes a question may count on the event loop; past it, worker threads count them
# (numpy sorts without the GIL), so one long range does not hold up other requests.
_COUNT_INLINE = 200_000
# Worker threads one question's sets are split over: one per core. Sets the size of
# 20 products' over 7 days at 10M events (1.6 million hashes) took 14.8 ms to count
# in one thread and 8.5 in two; the whole question went from 76.8/89.1 to 73.0/82.3
# ms p50/p95 (bench/RESULTS.md, the 20afaee run's notes).
_COUNT_THREADS = os.cpu_count() or 1


async def _count_sets(groups: list[Group], names: list[str]) -> None:
    """Replace each group's sets (db.hash_sets) by the count of their union."""

    def count(share: Sequence[Group]) -> None:
        for group in share:
            group.values.update({name: count_union(group.values[name]) for name in names})

    stored = sum(len(g.values[n] or b"") for g in groups for n in names)
    if stored // HASH_BYTES <= _COUNT_INLINE:
        count(groups)
        return
    shares = [groups[i::_COUNT_THREADS] for i in range(min(_COUNT_THREADS, len(groups)))]
    await asyncio.gather(*(asyncio.to_thread(count, share) for share in shares))


async def fetch_top_errors(
    conn: AsyncConnection, fact: Fact, query: AggregateQuery, entity_ids: Sequence[str]
) -> dict[str, list[ErrorRow]]:
    """Ranked error labels per entity id."""
    result: dict[str, list[ErrorRow]] = defaultdict(list)
    rows = await conn.execute(compile_top_errors(fact, query, entity_ids))
    for row in rows.mappings():
        result[row["entity_id"]].append(
            ErrorRow(row["error"], row["count"], row["share"], row["last_seen"])
        )
    return {entity_id: result.get(entity_id, []) for entity_id in entity_ids}
