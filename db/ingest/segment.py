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
table holds only the columns the rollups (and the tally of the segment's
inserted rows, which registers their entities once at its end) read.

A segment's end (its rollups, then the commit) takes seconds, and `load` lets
the next segment write its batches meanwhile, on a connection of its own:
open_segment() begins a segment, close() ends it. The end never waits for a
later segment (it registers entities and counts rows only then, and rollup
rows are only appended), so the two cannot deadlock; a later segment's row
that repeats one of the ending segment waits for its commit and is then a
duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack

from sqlalchemy import FromClause, TableClause, column, select, table, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from db.engine import Database
from db.ingest.batch import CheckedBatch, IngestKind, IngestOutcome, record, refusals, settle
from db.ingest.bulk import Feed, copy_insert
from db.rolled import HASHED_GROUPING, appends, source_columns


class _Abandoned(Exception):
    """Ends a segment's transaction with a rollback (its exit stack sees an error)."""


class Segment:
    """A segment's open transaction, on a connection of its own: write() stores a
    batch in it, close() adds the rollups and commits, abandon() rolls back."""

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

    async def write(self, checked: CheckedBatch) -> IngestOutcome:
        """Store a checked batch in the segment; its rollups and, with them, its
        entities and row count wait for the segment's end."""
        kind = self._kind
        async with refusals("rows"):
            tally = await copy_insert(
                self._conn,
                kind.table,
                checked.columns,
                kind.conflict_target,
                kind.tally,
                self._feed,
            )
            return await settle(self._conn, kind, checked, tally, recorded=self._kept is None)

    async def close(self) -> None:
        """Add the segment's rollups, register its entities and commit; a database
        fault raises IngestFailed, nothing of the segment stored."""
        kind, kept, conn = self._kind, self._kept, self._conn
        async with refusals("rows"):
            try:
                if kind.fact is not None and kept is not None:
                    await record(
                        conn, kind, (await conn.execute(kind.tally.over(kept))).mappings().all()
                    )
                    await conn.execute(text(HASHED_GROUPING))
                    for statement in appends(kind.fact, kept):
                        await conn.execute(statement)
            except BaseException:
                await self.abandon()
                raise
            await self._stack.aclose()  # commits

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
    fact = kind.fact
    columns = source_columns(fact) if fact is not None else ()
    if columns:
        columns = tuple(sorted({*columns, *kind.tally.columns}))
    # One name per fact table, so the writer's INSERT compiles once (see bulk.py).
    kept = table(f"rollup_source_{kind.table.name}", *map(column, columns)) if columns else None
    stack = AsyncExitStack()
    async with refusals("rows"):
        conn = await stack.enter_async_context(db.write())
        try:
            # Each batch sorts its rows into storage order (db.ingest.bulk), and the
            # appends group the whole segment once per dimension: with the default 4 MB
            # both sorted on disk; with this much the few groups fit in memory (about
            # 40 MB each at 500,000 rows), and the rollups of a million product events
            # took about 20% less time.
            await conn.execute(text("SET LOCAL work_mem = '256MB'"))
            if kept is not None:
                await _create(conn, kept, kind)
        except BaseException:
            await stack.__aexit__(_Abandoned, _Abandoned(), None)
            raise
    return Segment(stack, conn, kind, kept)
