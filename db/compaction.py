"""Compaction: the rows a key's batches appended to a rollup table, folded into one.

Ingest appends rollup rows instead of merging them into stored ones
(db.rolled): an ``ON CONFLICT DO UPDATE`` of a rollup row cost about 95 µs
(its index entry, a new row version, the sketches rewritten), an appended row
a fifth of that. Readers merge whatever rows a key has, so answers are the
same with one row per key or many; compaction only keeps the rows few.

One statement compacts up to KEYS_PER_STATEMENT keys: of each key that has
rows not yet compacted, it deletes the rows and inserts their merge, flagged
compacted. A reader sees the rows before it or after it, never a mix, and a
batch that appends meanwhile is not touched (its rows are not in the
statement's snapshot), so it is compacted next time.

A key's base, its largest compacted row (by the rollup's rank: events,
requests, predictions), is left out of the fold while the key's other rows
hold less than a quarter as many (BASE_SHARE): they are folded into one row
beside it, so a key has at most two rows once compacted. Folding the base
every time rewrote a whole day's row (its users' set, 76 KB at 10M events,
sorted again in SQL; its sketches normalized; the row written to TOAST again)
for every few events that arrived: on the 10M benchmark database, with the
rollup rows of 100,000 fresh events pending, a statement of 5,000 keys took
685 ms instead of 1,284 (daily) and 334 instead of 659 (hourly). The base is
folded in once the rows beside it reach a quarter of it: a pass rewrites at
most about a quarter of a key's base beside its new rows, and a base is
rewritten whole only after growing by a quarter (about five rewrites per row
over a key's life, on average).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    and_,
    cast,
    func,
    literal_column,
    not_,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.types import UserDefinedType

from db.engine import Database
from db.facts.all import FACTS
from db.ingest.bulk import vacuum_analyze
from db.rollups import COMPACTED, KEY, Grain, Rollup

KEYS_PER_STATEMENT = 5_000  # about half a second of work at most
# A key's base row (its largest compacted one) is folded again only once its other rows
# hold a quarter as many rows (rank) as it does; until then they fold beside it.
BASE_SHARE = 4
# One compaction at a time across gateways (compactions side by side would
# wait for each other's row locks, with nothing to gain).
_LOCK = 0x726F6C6C  # "roll"


class _Tid(UserDefinedType[Any]):
    """Postgres's row address type, for the array of rows a compaction deletes."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "tid"


def compaction(rollup: Rollup, grain: Grain, keys: int = KEYS_PER_STATEMENT) -> Select[Any]:
    """The statement that compacts up to `keys` keys of the grain's table and counts them."""
    stored = grain.table
    pending = (
        select(*[stored.c[name] for name in KEY])
        .where(~stored.c[COMPACTED])
        .distinct()
        .limit(keys)
        .subquery("pending")
    )
    # Each pending key's rows by the key index, the key at a time: the subquery is
    # LATERAL and fenced (OFFSET 0), so the planner cannot flatten it into a join
    # it would order by its statistics. They lag behind the appends (a table
    # analyzed empty is planned as one row), and `IN (pending keys)` was then run
    # as a nested loop over the whole table with the keys rescanned for every row:
    # a load's 48,000 appended rows took minutes instead of a second.
    held = stored.alias("held")
    size = func.coalesce(held.c[rollup.rank], 0)
    done = held.c[COMPACTED]
    # Within one key's rows (a few): its largest compacted row is its base, and the
    # sum of the key's rows' sizes.
    ranked = (
        select(
            literal_column("held.ctid").label("at"),
            done.label("done"),
            size.label("size"),
            func.row_number().over(order_by=[done.desc(), size.desc()]).label("n"),
            func.sum(size).over().label("total"),
        )
        .select_from(held)
        .where(*[held.c[name] == pending.c[name] for name in KEY])
        .offset(0)
        .lateral("ranked")
    )
    # A key's base stays as it is while the key's other rows hold less than a
    # BASE_SHARE of its rows (rank); they are folded into one row beside it.
    kept = and_(
        ranked.c.n == 1,
        ranked.c.done,
        (ranked.c.total - ranked.c.size) * BASE_SHARE < ranked.c.size,
    )
    located = (
        select(func.array_agg(ranked.c.at))
        .select_from(pending.join(ranked, true()))
        .where(not_(kept))
    )
    at: ColumnElement[Any] = literal_column(f'"{stored.name}".ctid')
    gone = (
        stored.delete()
        .where(at == func.any(cast(located.scalar_subquery(), ARRAY(_Tid()))))
        .returning(*stored.c)
        .cte("gone")
    )
    merged = select(
        *[gone.c[name] for name in KEY],
        *[part.merged(gone.c[name]).label(name) for name, part in rollup.parts.items()],
        true(),
    ).group_by(*[gone.c[name] for name in KEY])
    columns = [*KEY, *rollup.parts, COMPACTED]
    folded = insert(stored).from_select(columns, merged).returning(stored.c.entity).cte("folded")
    return select(func.count()).select_from(folded)


async def compact(db: Database, keys: int = KEYS_PER_STATEMENT) -> int:
    """Compact every rollup table, a transaction per statement of at most `keys` keys,
    until a table has nothing left to fold: the keys compacted (none while another
    compaction runs). A transaction holds one table's locks, never two."""
    total = 0
    for rollup, grain in _grains():
        statement = compaction(rollup, grain, keys)
        while True:
            async with db.write() as conn:
                if not await conn.scalar(select(func.pg_try_advisory_xact_lock(_LOCK))):
                    return total
                # The planner's statistics lag behind the appends and see many rows
                # to fold, so it would read the whole table twice (seconds at ten
                # million events); the partial index and the key index read only
                # the keys at hand (1,177 ms -> 505 ms for 11,000 rows at 1M).
                await conn.execute(text("SET LOCAL enable_seqscan = off"))
                # Background work, not a request: the server's request timeout
                # does not apply (a statement of KEYS_PER_STATEMENT keys is short).
                await conn.execute(text("SET LOCAL statement_timeout = '5min'"))
                compacted: int = (await conn.execute(statement)).scalar_one()
            total += compacted
            if compacted < keys:
                break
    return total


async def vacuum_rollups(db: Database) -> None:
    """VACUUM (ANALYZE) every rollup table.

    Compaction deletes every row it folds, so a table keeps its dead rows (and
    its readers visit them) until a vacuum; autovacuum may be off, as it is on
    this project's CI Postgres, or behind. Two senders of 5,000-row bodies for
    four minutes left 918,000 dead rows in product_events_daily (415 MB), and
    the 7-day overview's median went from 92 to 304 ms; vacuuming them took
    2.3 s, after a pass of 170,000 folded rows about half a second.
    """
    async with db.read() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        # Background work, not a request: the connection's request timeout does not
        # apply; RESET gives the connection its own back before it returns to the pool.
        await autocommit.execute(text("SET statement_timeout = '5min'"))
        try:
            await vacuum_analyze(autocommit, [grain.table for _, grain in _grains()])
        finally:
            await autocommit.execute(text("RESET statement_timeout"))


async def pending(db: Database) -> int:
    """Rollup rows not compacted yet, over every rollup table."""
    async with db.read() as conn:
        total = 0
        for _, grain in _grains():
            waiting = select(func.count()).where(~grain.table.c[COMPACTED])
            total += await conn.scalar(waiting) or 0
        return total


def _grains() -> list[tuple[Rollup, Grain]]:
    """Every rollup table with the rollup it belongs to."""
    return [(f.rollup, grain) for f in FACTS if f.rollup is not None for grain in f.rollup.grains]
