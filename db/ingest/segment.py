"""Many batches of one kind in one transaction, stored by one statement at its end.

A batch's rollup rows number about as many as the rollup keys it touches
(entity x day x dimension value, entity x hour), and history in random order
touches nearly all of its span's keys in every batch, whatever its size: each
of `load`'s 50,000-row chunks would append about the same keys again. And
50,000 rows of history spread over a month of daily partitions land a few
thousand in each: every one of them is an index entry on a page of its own,
read (and, with the indexes larger than shared buffers, written back) for a
row or two. So a segment COPYs its checked batches into one staging table, and
moves them into the fact table at its end, in one INSERT ... ON CONFLICT DO
NOTHING in storage order (db.ingest.bulk), a partition at a time: at ten
million stored product events, 500,000 rows of history took 13.5 s in one
statement and 29.4 s in ten. That INSERT's CTE appends the inserted rows'
rollup source columns to a temporary table, and the rollups take that table
once, just before the commit, one row per key for the whole segment. Raw rows,
rollups, entities, counts and quarantine still change in one transaction, and
rows of one identity staged twice are stored once, the first to arrive.

A segment's end (its INSERT, its rollups, then the commit) takes seconds, and
`load` lets the next segment stage its batches meanwhile, on a connection of
its own: open_segment() begins a segment, close() ends it. The end never waits
for a later segment (which only stages rows until its own end, after this
one's), so the two cannot deadlock; a later segment's row that repeats one of
the ending segment is then a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack

from sqlalchemy import FromClause, TableClause, column, select, table, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from db.engine import Database
from db.ingest.batch import (
    CheckedBatch,
    IngestKind,
    IngestOutcome,
    quarantine_rows,
    record,
    refusals,
)
from db.ingest.bulk import Feed, create_staging, insert_staged, inserted_rows, stage
from db.rolled import HASHED_GROUPING, appends, source_columns


class _Abandoned(Exception):
    """Ends a segment's transaction with a rollback (its exit stack sees an error)."""


class Segment:
    """A segment's open transaction, on a connection of its own: write() stages a
    batch in it, close() stores the staged rows, adds the rollups and commits,
    abandon() rolls back."""

    def __init__(
        self,
        stack: AsyncExitStack,
        conn: AsyncConnection,
        kind: IngestKind,
        kept: TableClause | None,
    ) -> None:
        self._stack = stack
        self._conn = conn
        self._kind = kind
        self._kept = kept
        self._feed = None if kept is None else _keeping(kept)
        self._staging: str | None = None
        self._columns: list[str] = []
        self.staged = 0  # rows staged, not yet stored (duplicates among them or not)
        self._duplicates = 0  # found within the batches, before staging

    async def write(self, checked: CheckedBatch) -> IngestOutcome:
        """Stage a checked batch and quarantine its rejected rows; the rows it stores,
        and what of them are duplicates, are known when the segment ends (close)."""
        kind, conn = self._kind, self._conn
        async with refusals("rows"):
            if checked.columns and len(next(iter(checked.columns.values()))):
                if self._staging is None:
                    self._columns = list(checked.columns)
                    self._staging = await create_staging(conn, kind.table)
                elif list(checked.columns) != self._columns:  # a kind's shape fixes them
                    raise RuntimeError(f"a {kind.kind} batch of other columns than the first")
                await stage(conn, kind.table, self._staging, checked.columns)
                self.staged += len(next(iter(checked.columns.values())))
            await quarantine_rows(conn, kind.kind, checked.rejected, checked.rejected_raw)
        self._duplicates += checked.in_batch_duplicates
        return IngestOutcome(rejected=list(checked.rejected))

    async def close(self) -> IngestOutcome:
        """Store the staged rows, add their rollups, register their entities and commit:
        the rows stored and the duplicates, or IngestFailed with nothing of the
        segment stored."""
        kind, kept, conn = self._kind, self._kept, self._conn
        stored = IngestOutcome(duplicates=self._duplicates)
        async with refusals("rows"):
            try:
                if self._staging is not None:
                    tally = await insert_staged(
                        conn,
                        kind.table,
                        self._staging,
                        self._columns,
                        kind.conflict_target,
                        kind.tally,
                        self._feed,
                    )
                    await record(conn, kind, tally)
                    stored.accepted = inserted_rows(tally)
                    stored.duplicates += self.staged - stored.accepted
                if kind.fact is not None and kept is not None:
                    await conn.execute(text(HASHED_GROUPING))
                    for statement in appends(kind.fact, kept):
                        await conn.execute(statement)
            except BaseException:
                await self.abandon()
                raise
            await self._stack.aclose()  # commits
        return stored

    async def abandon(self) -> None:
        """Roll the segment back (after a fault, or when the load stops)."""
        await self._stack.__aexit__(_Abandoned, _Abandoned(), None)


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


async def open_segment(db: Database, kind: IngestKind) -> Segment:
    """Begin a segment's transaction on a connection of its own; a database fault
    raises IngestFailed."""
    columns = sorted(source_columns(kind.fact)) if kind.fact is not None else []
    # One name per fact table, so the writer's INSERT compiles once (see bulk.py).
    kept = table(f"rollup_source_{kind.table.name}", *map(column, columns)) if columns else None
    stack = AsyncExitStack()
    async with refusals("rows"):
        conn = await stack.enter_async_context(db.write())
        try:
            # The INSERT sorts the segment's rows into storage order (db.ingest.bulk),
            # and the appends group them once per dimension: with the default 4 MB both
            # sorted on disk; with this much the few groups fit in memory (about 40 MB
            # each at 500,000 rows), and the rollups of a million product events took
            # about 20% less time.
            await conn.execute(text("SET LOCAL work_mem = '256MB'"))
            if kept is not None:
                await _create(conn, kept, kind)
        except BaseException:
            await stack.__aexit__(_Abandoned, _Abandoned(), None)
            raise
    return Segment(stack, conn, kind, kept)
