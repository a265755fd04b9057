"""The one writer transport of every ingest path: binary COPY, then one INSERT.

Rows are COPYed into a temporary staging table, then moved into the fact
table with a single ``INSERT ... SELECT ... ON CONFLICT DO NOTHING
RETURNING``, so a retried batch stores nothing twice. What the caller learns
of the rows that went in is a tally per entity (how many, their first and last
time, and a kind's own aggregates such as a product's newest name), grouped
by the same statement: one row per product instead of one per event, which
took SQLAlchemy about 3 µs a row to hand over (a quarter of the event loop's
time under NDJSON ingest). Statements fed by the inserted rows (the rollup
appends; in a load's segment, the append to the table the rollups take at its
end: db.ingest.segment) run as CTEs of that same INSERT: Postgres hands them the rows
directly, and no row makes a round trip through Python for them. COPY is the
fastest way into Postgres, and one statement per batch keeps small batches
(the mutations') cheap too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import orjson
import psycopg
from psycopg import sql
from sqlalchemy import (
    JSON,
    ColumnElement,
    Executable,
    FromClause,
    Select,
    Table,
    column,
    func,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Dialect, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert, ReturningInsert

if TYPE_CHECKING:  # psycopg names the type of Copy.formatter only in a private module
    from psycopg._copy_base import Formatter
    from psycopg.abc import Buffer

# Column type oids per (table, columns): the staging table's types never change
# while the process runs, so they are asked for once.
_copy_types: dict[tuple[str, tuple[str, ...]], list[int]] = {}


def _row_adapters(
    fact: Table, columns: Sequence[str], dialect: Dialect
) -> list[tuple[int, Callable[[Any], Any]]]:
    """The column types' own bind processors (strict booleans), by position, and
    JSON columns written as JSON text (staged as text, see _staging_columns).

    Applying them makes COPY store exactly what a plain INSERT would store.
    """
    adapters: list[tuple[int, Callable[[Any], Any]]] = []
    for position, name in enumerate(columns):
        if _is_json(fact, name):
            adapters.append((position, _json_text))
            continue
        process = fact.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            adapters.append((position, process))
    return adapters


def _is_json(fact: Table, name: str) -> bool:
    return isinstance(fact.c[name].type, JSON)


def _json_text(value: Any) -> str:
    """A JSON value as text (null as the JSON null, as the column type stores it).

    psycopg's own JSONB dumper calls the standard library's encoder once per
    value: for 5,000 rows without properties that was about 30 ms of a 46 ms COPY.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # a whole number beyond 64 bits: the slower encoder writes it
        return json.dumps(value)


def _staging_columns(fact: Table) -> sql.Composable:
    """The staging table's columns: every column of the fact table, JSON ones as text."""
    return sql.SQL(", ").join(
        sql.SQL("{0}::text AS {0}").format(sql.Identifier(c.name))
        if _is_json(fact, c.name)
        else sql.Identifier(c.name)
        for c in fact.columns
    )


async def create_staging(conn: AsyncConnection, fact: Table) -> str:
    """The connection's staging table for fact, empty; stage() COPYs rows into it.

    It has every column of fact (JSON ones as text) and lives as long as the
    connection: made by the connection's first batch, emptied by each commit
    (ON COMMIT DELETE ROWS) and by a rollback, which takes its rows with it.
    A table made and dropped by every batch cost a few milliseconds of DDL,
    left dead rows in the system catalogs for every batch (pg_class,
    pg_attribute, pg_type), and, being new each time, made Postgres parse and
    plan the writer's statement anew: psycopg prepares a statement on its
    fifth run on a connection, but forgets every prepared one after a DROP.
    """
    # One name per fact table, so the INSERT that reads it is the same statement every
    # batch and SQLAlchemy compiles it once (with unique names its compilation took
    # about 14 ms of a 1,000-row batch). Emptied here too, should a batch earlier in
    # the same transaction have left rows. The writer breaks ties between rows of one
    # identity by their address (ctid), which only a load's segment needs (a batch
    # drops its own repeats before staging): its transaction starts on a table the
    # last commit truncated, and a fault ends the load, so addresses follow arrival.
    name = f"staging_{fact.name}"
    staging = sql.Identifier(name)
    driver = await _driver(conn)
    async with driver.cursor() as cursor:
        # Postgres-only DDL: no constraints or defaults on staging, so a serial id is
        # drawn once, by the fact table.
        await cursor.execute(
            sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS {0} ON COMMIT DELETE ROWS "
                "AS SELECT {1} FROM {2} WITH NO DATA; "
                "DELETE FROM pg_temp.{0}"
            ).format(
                staging,
                _staging_columns(fact),
                sql.Identifier(fact.name),
            )
        )
    return name


async def stage(
    conn: AsyncConnection, fact: Table, staging: str, rows: Mapping[str, Sequence[Any]]
) -> None:
    """COPY rows (columns of one length by name, any of the fact table's)
    into the staging table, after the rows already there."""
    columns = list(rows)
    adapters = _row_adapters(fact, columns, conn.dialect)
    driver = await _driver(conn)
    targets = sql.SQL(", ").join(map(sql.Identifier, columns))
    async with driver.cursor() as cursor:
        types = await _types(cursor, fact, columns, sql.Identifier(staging))
        copy_in = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(staging), targets
        )
        async with cursor.copy(copy_in) as copy:
            copy.set_types(types)
            # Formatting rows is CPU work: done in a worker thread, so the event loop
            # only sends the bytes (the formatter belongs to this COPY alone).
            formatter = copy.formatter
            for chunk in await asyncio.to_thread(_formatted, formatter, rows, adapters):
                await copy.write(chunk)


async def _driver(conn: AsyncConnection) -> psycopg.AsyncConnection[Any]:
    raw = await conn.get_raw_connection()
    return cast("psycopg.AsyncConnection[Any]", raw.driver_connection)


async def _types(
    cursor: psycopg.AsyncCursor[Any], fact: Table, columns: Sequence[str], staging: sql.Identifier
) -> list[int]:
    """Binary COPY needs every column's type; the staging table's own are exact."""
    key = (fact.name, tuple(columns))
    if key not in _copy_types:
        names = sql.SQL(", ").join(map(sql.Identifier, columns))
        await cursor.execute(sql.SQL("SELECT {} FROM {} LIMIT 0").format(names, staging))
        _copy_types[key] = [described.type_code for described in cursor.description or ()]
    return _copy_types[key]


def _formatted(
    formatter: Formatter,
    rows: Mapping[str, Sequence[Any]],
    adapters: Sequence[tuple[int, Callable[[Any], Any]]],
) -> list[Buffer]:
    """The rows in COPY's format, in chunks; the formatter keeps the tail for the end."""
    columns = list(rows.values())
    for position, process in adapters:
        columns[position] = list(map(process, columns[position]))
    chunks: list[Buffer] = []
    for values in zip(*columns, strict=True):
        chunk = formatter.write_row(values)
        if chunk:
            chunks.append(chunk)
    return chunks


@dataclass(frozen=True)
class Tally:
    """What the writer returns of the rows a batch inserted: one row per value of
    the `by` columns (the entity), holding `rows` (how many went in), `first_seen`
    and `last_seen` (their least and greatest `time`), and the aggregates `also`
    builds over the inserted rows (reading the columns of `reads` too)."""

    by: tuple[str, ...]
    time: str = "ts"
    also: Callable[[FromClause], Mapping[str, ColumnElement[Any]]] | None = None
    reads: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """The inserted rows' columns the tally reads."""
        return tuple(dict.fromkeys([*self.by, self.time, *self.reads]))

    def over(self, inserted: FromClause) -> Select[Any]:
        """The tally's statement over the inserted rows."""
        also = self.also(inserted) if self.also is not None else {}
        return select(
            *[inserted.c[name] for name in self.by],
            func.count().label("rows"),
            func.min(inserted.c[self.time]).label("first_seen"),
            func.max(inserted.c[self.time]).label("last_seen"),
            *[value.label(name) for name, value in also.items()],
        ).group_by(*[inserted.c[name] for name in self.by])


def inserted_rows(tally: Sequence[RowMapping]) -> int:
    """How many rows a batch inserted, from its tally."""
    return sum(int(row["rows"]) for row in tally)


@dataclass(frozen=True)
class Feed:
    """Statements that take the rows a batch inserted: the columns they read, the
    statements over a FROM of those columns (the inserted rows), and a name that
    is the same for every feed that builds the same statements."""

    columns: tuple[str, ...]
    build: Callable[[FromClause], Sequence[Insert]]
    name: str


def _insert_from(
    fact: Table,
    staging: str,
    columns: Sequence[str],
    conflict: Sequence[str] | None,
    returning: Sequence[str],
) -> ReturningInsert[Any]:
    """INSERT INTO fact SELECT staging, skipping stored identities, returning the columns asked."""
    source = table(staging, *[column(c) for c in columns])
    values = [
        source.c[c].cast(fact.c[c].type) if _is_json(fact, c) else source.c[c] for c in columns
    ]
    # Rows of one identity in the order they arrived, so the first is the one stored
    # (a load's segment stages many chunks): staged rows are only ever appended, by
    # COPY in one transaction, to a table each commit truncates, so their addresses
    # (ctid) run in that order.
    arrived: ColumnElement[Any] = literal_column(f'"{staging}".ctid')
    rows = select(*values).order_by(*_storage_order(fact, source), arrived)
    statement = insert(fact).from_select(list(columns), rows)
    if conflict is not None:
        statement = statement.on_conflict_do_nothing(index_elements=[fact.c[c] for c in conflict])
    return statement.returning(*[fact.c[name] for name in returning])


def _storage_order(fact: Table, source: FromClause) -> list[ColumnElement[Any]]:
    """The order rows are inserted in: a day's partition at a time, then by the
    primary key, so each index is written page after page instead of at random.

    At a million stored product events, 50,000 rows of history in random order
    took 1.2-1.4 s to insert as they came and 0.73-0.90 s in this order: the
    indexes of all thirty partitions no longer compete for shared buffers.
    """
    order: list[ColumnElement[Any]] = []
    if fact.dialect_options["postgresql"]["partition_by"] and "ts" in source.c:
        order.append(func.date_trunc("day", source.c.ts, "UTC"))
    order += [source.c[c.name] for c in fact.primary_key.columns if c.name in source.c]
    return order


async def copy_insert(
    conn: AsyncConnection,
    fact: Table,
    rows: Mapping[str, Sequence[Any]],
    conflict: Sequence[str] | None,
    tally: Tally,
    feed: Feed | None = None,
) -> Sequence[RowMapping]:
    """Store rows, given as columns of one length by name, on conn; the tally of the
    rows actually inserted comes back (inserted_rows() counts them).

    conflict names the columns of the identity a stored row already holds
    (None: nothing is ever a duplicate); feed's statements take the inserted
    rows in the same statement. The caller owns the transaction.
    """
    if not rows or not len(next(iter(rows.values()))):
        return []
    staging = await create_staging(conn, fact)
    await stage(conn, fact, staging, rows)
    return await insert_staged(conn, fact, staging, list(rows), conflict, tally, feed)


async def insert_staged(
    conn: AsyncConnection,
    fact: Table,
    staging: str,
    columns: Sequence[str],
    conflict: Sequence[str] | None,
    tally: Tally,
    feed: Feed | None = None,
) -> Sequence[RowMapping]:
    """Move the staged rows of these columns into fact in one statement (the rest as
    copy_insert says); the tally of the rows inserted comes back."""
    key = (fact.name, tuple(columns), tuple(conflict or ()), tally, feed and feed.name)
    if key not in _statements:
        _statements[key] = _writer(fact, staging, columns, conflict, tally, feed)
    tallied: Sequence[RowMapping] = (await conn.execute(_statements[key])).mappings().all()
    return tallied


# The writer's statement per (fact, columns, conflict, tally, feed): the staging
# table's name is fixed, so the statement is too, and building its expression (the
# rollup appends' column swaps) took about 16 ms of Python per batch.
_statements: dict[tuple[Any, ...], Executable] = {}


def _writer(
    fact: Table,
    staging: str,
    columns: Sequence[str],
    conflict: Sequence[str] | None,
    tally: Tally,
    feed: Feed | None,
) -> Executable:
    """The INSERT from staging as a CTE, the feed's statements as CTEs beside it, and
    the tally of its rows as the statement's result."""
    wanted = list(dict.fromkeys([*tally.columns, *(feed.columns if feed else ())]))
    inserted = _insert_from(fact, staging, columns, conflict, wanted).cte("inserted")
    fed = [s.cte(f"fed_{n}") for n, s in enumerate(feed.build(inserted))] if feed else []
    return tally.over(inserted).add_cte(*fed)


async def vacuum_analyze(conn: AsyncConnection, loaded: Sequence[Table]) -> None:
    """Refresh the planner's statistics and the visibility map of tables after a bulk
    load; conn must be in autocommit (VACUUM runs outside any transaction).

    Autovacuum comes only after enough churn and on its own schedule; until then
    a freshly loaded table is planned as if it were empty, and an index-only scan
    (the exact distinct users over (product_id, user_id, ts)) still reads every
    heap page: at a million rows a 30-day overview took 81 ms before, 33 ms after.
    """
    for table_ in loaded:
        await conn.execute(text(f'VACUUM (ANALYZE) "{table_.name}"'))
