"""The bulk path for any ingest kind: COPY into a staging table, then one INSERT.

Rows are the same checked batch the mutations write (db.ingest.batch), and
the outcome is counted the same way; only the transport differs. COPY is the
fastest way into Postgres, and the single ``INSERT ... SELECT ... ON CONFLICT
DO NOTHING RETURNING`` keeps a reloaded file idempotent on the kind's identity.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, cast

import psycopg
from psycopg import sql
from sqlalchemy import column, select, table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Dialect, RowMapping
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import ReturningInsert

from db.engine import Database
from db.ingest.batch import CheckedBatch, IngestKind, IngestOutcome, refused, settle

_staging_names = itertools.count(1)


def _row_adapters(
    kind: IngestKind, columns: Sequence[str], dialect: Dialect
) -> list[tuple[int, Callable[[Any], Any]]]:
    """The column types' own bind processors (JSONB, strict booleans), by position.

    Applying them makes COPY store exactly what the mutations' INSERT stores.
    """
    adapters: list[tuple[int, Callable[[Any], Any]]] = []
    for position, name in enumerate(columns):
        column_type = kind.table.c[name].type
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            adapters.append((position, process))
    return adapters


async def _copy_to_staging(
    conn: AsyncConnection, kind: IngestKind, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> str:
    """Create a staging table of just these columns and COPY the rows into it."""
    name = f"staging_{kind.table.name}_{next(_staging_names)}"
    adapters = _row_adapters(kind, columns, conn.dialect)
    raw = await conn.get_raw_connection()
    driver = cast("psycopg.AsyncConnection[Any]", raw.driver_connection)
    targets = sql.SQL(", ").join(map(sql.Identifier, columns))
    staging = sql.Identifier(name)
    async with driver.cursor() as cursor:
        # Postgres-only DDL and COPY: no constraints or defaults on staging, so a
        # serial id is drawn once, by the fact table. Dropped with the transaction.
        await cursor.execute(
            sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
                staging, targets, sql.Identifier(kind.table.name)
            )
        )
        # Binary COPY needs every column's type; the staging table's own are exact.
        await cursor.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(staging))
        types = [described.type_code for described in cursor.description or ()]
        copy_in = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(staging, targets)
        async with cursor.copy(copy_in) as copy:
            copy.set_types(types)
            for row in rows:
                values = [row[c] for c in columns]
                for position, process in adapters:
                    values[position] = process(values[position])
                await copy.write_row(values)
    return name


def _insert_from(kind: IngestKind, staging: str, columns: Sequence[str]) -> ReturningInsert[Any]:
    """INSERT INTO fact SELECT staging, skipping stored ids, returning what register needs."""
    fact = kind.table
    source = table(staging, *[column(c) for c in columns])
    statement = insert(fact).from_select(list(columns), select(source))
    if kind.identity is not None:
        statement = statement.on_conflict_do_nothing(index_elements=list(kind.identity))
    return statement.returning(*[fact.c[name] for name in kind.returning])


async def copy_checked(
    conn: AsyncConnection, kind: IngestKind, checked: CheckedBatch
) -> IngestOutcome:
    """Store a checked batch on conn through COPY (the caller owns the transaction)."""
    inserted: Sequence[RowMapping] = []
    if checked.rows:
        columns = list(checked.rows[0])
        staging = await _copy_to_staging(conn, kind, columns, checked.rows)
        inserted = (await conn.execute(_insert_from(kind, staging, columns))).mappings().all()
    return await settle(conn, kind, checked, inserted)


async def bulk_write(db: Database, kind: IngestKind, checked: CheckedBatch) -> IngestOutcome:
    """Store a checked batch through COPY in one transaction, or raise IngestFailed."""
    try:
        async with db.write() as conn:
            return await copy_checked(conn, kind, checked)
    except SQLAlchemyError as error:
        raise refused(getattr(error, "orig", None) or error) from error
    except psycopg.Error as error:  # raised by COPY on the driver connection itself
        raise refused(error) from error
