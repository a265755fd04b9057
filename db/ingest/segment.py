"""Many batches of one kind in one transaction, with the rollups added once at its end.

A batch's rollup rows number about as many as the rollup keys it touches
(entity x day x dimension value, entity x hour), and history in random order
touches nearly all of its span's keys in every batch, whatever its size: each
of `load`'s 50,000-row chunks would append about the same keys again. So a
segment writes its batches as every writer does (COPY, one INSERT ... ON
CONFLICT DO NOTHING RETURNING, settle), except that the INSERT's CTE appends
the inserted rows' rollup source columns to a temporary table instead of
appending rollup rows; the rollups take that table once, just before the
commit, one row per key for the whole segment. Raw rows, rollups, entities,
counts and quarantine still change in one transaction, and the temporary
table holds only the columns the rollups read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from sqlalchemy import FromClause, TableClause, column, select, table, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from db.engine import Database
from db.ingest.batch import CheckedBatch, IngestKind, IngestOutcome, refusals, settle
from db.ingest.bulk import Feed, copy_insert
from db.rolled import HASHED_GROUPING, appends, source_columns


class Segment:
    """A segment's open transaction: write() stores a batch in it."""

    def __init__(self, conn: AsyncConnection, kind: IngestKind, kept: TableClause | None) -> None:
        self._conn = conn
        self._kind = kind
        self._feed = None if kept is None else _keeping(kept)

    async def write(self, checked: CheckedBatch) -> IngestOutcome:
        """Store a checked batch in the segment; its rollups wait for the segment's end."""
        kind = self._kind
        tally = await copy_insert(
            self._conn, kind.table, checked.columns, kind.conflict_target, kind.tally, self._feed
        )
        return await settle(self._conn, kind, checked, tally)


def _keeping(kept: TableClause) -> Feed:
    """The writer's CTE that appends the inserted rows' source columns to kept."""
    columns = tuple(c.name for c in kept.c)

    def append(inserted: FromClause) -> Sequence[Insert]:
        return [insert(kept).from_select(columns, select(*[inserted.c[c] for c in columns]))]

    return Feed(columns, append, f"keep:{kept.name}")


async def _create(conn: AsyncConnection, kept: TableClause, kind: IngestKind) -> None:
    names = ", ".join(f'"{c.name}"' for c in kept.c)
    # Postgres-only DDL: the fact table's column types, no constraints; dropped on commit.
    await conn.execute(
        text(
            f'CREATE TEMP TABLE "{kept.name}" ON COMMIT DROP AS '
            f'SELECT {names} FROM "{kind.table.name}" WITH NO DATA'
        )
    )


@asynccontextmanager
async def segment(db: Database, kind: IngestKind) -> AsyncIterator[Segment]:
    """One transaction for the batches written in the block, committed with their
    rollups when it ends; a database fault raises IngestFailed, nothing of it stored."""
    fact = kind.fact
    columns = source_columns(fact) if fact is not None else ()
    # One name per fact table, so the writer's INSERT compiles once (see bulk.py).
    kept = table(f"rollup_source_{kind.table.name}", *map(column, columns)) if columns else None
    async with refusals("rows"), db.write() as conn:
        # Each batch sorts its rows into storage order (db.ingest.bulk), and the appends
        # group the whole segment once per dimension: with the default 4 MB both sorted
        # on disk; with this much the few groups fit in memory (about 40 MB each at
        # 500,000 rows), and the rollups of a million product events took about 20%
        # less time.
        await conn.execute(text("SET LOCAL work_mem = '256MB'"))
        if kept is not None:
            await _create(conn, kept, kind)
        yield Segment(conn, kind, kept)
        if fact is not None and kept is not None:
            await conn.execute(text(HASHED_GROUPING))
            for statement in appends(fact, kept):
                await conn.execute(statement)
