"""One batch of rows of one kind: validate, write once, count, quarantine.

A batch is one transaction. Valid rows go in through the one writer
(db.ingest.bulk: COPY into staging, one ``INSERT ... ON CONFLICT (identity) DO
NOTHING``, whose inserted rows come back tallied per entity), so a retried
batch stores nothing twice; the identity is
the fact table's primary key (entity, id, timestamp: see db.tables). Rejected
rows go to the quarantine in the same transaction, so a database fault leaves
nothing of the batch behind; the rollups take the inserted rows in the
INSERT itself and the row counts in that transaction too.
A kind without a natural id (metric samples) is not idempotent: every
valid row is inserted and counted as accepted.
"""

from __future__ import annotations

import asyncio
import logging
import math
import reprlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Table
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from db import notify
from db.compiler import Fact
from db.engine import Database
from db.ingest.bulk import Feed, Tally, copy_insert, inserted_rows
from db.ingest.fields import RowError
from db.ingest.shape import RowContext, Shape, columns_of
from db.rolled import appends, source_columns
from db.stats import add_rows
from db.tables import quarantine

THREAD_ROWS = 500


logger = logging.getLogger(__name__)


class IngestFailed(Exception):
    """The database refused the batch; nothing of it was stored and a retry is safe."""


@dataclass(frozen=True)
class Rejection:
    """A row that was not stored: its position, the field at fault, and why."""

    index: int
    field: str | None
    message: str


@dataclass
class IngestOutcome:
    """Every submitted row lands in exactly one of these."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def add(self, other: IngestOutcome) -> None:
        """Fold another batch's counts into this one."""
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)


Screen = Callable[[Mapping[str, Any]], None]
Register = Callable[[AsyncConnection, Sequence[RowMapping]], Awaitable[None]]


@dataclass(frozen=True)
class IngestKind:
    """How one kind of row is checked, stored and registered with its entities.

    shape: the fields and how they are checked (db.ingest.shape); screen: a
    check of the whole input row that runs first and raises RowError (the
    mutations' refusal of unstorable values and of resources the token may not
    write); id_column None: the rows have no natural id, so nothing is a duplicate;
    tally: what the writer returns of the inserted rows, per entity (register
    and the live notices read it); register None: the rows belong to no entity
    catalog; fact: the declaration
    whose rollup takes the inserted rows (in the writer's own statement).
    """

    kind: str
    table: Table
    id_column: str | None
    shape: Shape
    tally: Tally
    register: Register | None
    fact: Fact | None = None
    screen: Screen | None = None

    @property
    def identity(self) -> tuple[str, ...] | None:
        """The columns that identify a row (the table's primary key), None without an id."""
        if self.id_column is None:
            return None
        return tuple(c.name for c in self.table.primary_key.columns)

    @property
    def tables(self) -> tuple[Table, ...]:
        """The tables a batch adds rows to: the fact table, then its rollup tables."""
        rollup = self.fact.rollup if self.fact is not None else None
        return (self.table, *(grain.table for grain in (rollup.grains if rollup else ())))

    @property
    def feed(self) -> Feed | None:
        """The fact's rollup appends, fed the inserted rows (None: no rollup)."""
        fact = self.fact
        if fact is None or fact.rollup is None:
            return None
        return Feed(
            source_columns(fact), lambda inserted: appends(fact, inserted), f"rollups:{fact.name}"
        )

    @property
    def conflict_target(self) -> tuple[str, ...] | None:
        """The columns a duplicate conflicts on: the identity (None: nothing is one)."""
        return self.identity


@dataclass
class CheckedBatch:
    """A batch after validation: the unique valid rows as stored columns (all of one
    length), and what was set aside with its input row."""

    columns: dict[str, list[Any]] = field(default_factory=dict)
    in_batch_duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    rejected_raw: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def size(self) -> int:
        """How many rows are to be stored."""
        return len(next(iter(self.columns.values()), ()))


def check_batch(
    kind: IngestKind, raws: Sequence[Mapping[str, Any]], context: RowContext
) -> CheckedBatch:
    """Validate input rows (mappings by contract field name); a rejection's index is
    the row's position."""
    refused: dict[int, RowError] = {}
    if kind.screen is not None:
        for position, raw in enumerate(raws):
            try:
                kind.screen(raw)
            except RowError as error:
                refused[position] = error
    return check_columns(kind, columns_of(raws, kind.shape), raws.__getitem__, context, refused)


def check_columns(
    kind: IngestKind,
    columns: Mapping[str, list[Any]],
    raw_of: Callable[[int], Mapping[str, Any]],
    context: RowContext,
    refused: Mapping[int, RowError] | None = None,
) -> CheckedBatch:
    """Validate a batch given as input columns (by field name, all of one length);
    refused: rows already rejected, by position. Of rows that share an identity the
    first is kept; raw_of gives a rejected row's input, to quarantine."""
    size = len(next(iter(columns.values()), ()))
    clean, errors = kind.shape.check(columns, size, context)
    errors = {**errors, **(refused or {})}  # a screen's refusal comes first
    checked = CheckedBatch()
    keep = [p for p in range(size) if p not in errors] if errors else range(size)
    for position in sorted(errors):
        error = errors[position]
        checked.rejected.append(Rejection(position, error.field, error.message))
        checked.rejected_raw.append(raw_of(position))
    identity = kind.identity
    if identity is not None:
        ids = list(zip(*(clean[name] for name in identity), strict=True))
        kept_ids = ids if len(keep) == size else [ids[p] for p in keep]
        if len(set(kept_ids)) < len(kept_ids):
            seen: set[tuple[Any, ...]] = set()
            unique = []
            for position, row_id in zip(keep, kept_ids, strict=True):
                if row_id not in seen:
                    seen.add(row_id)
                    unique.append(position)
            checked.in_batch_duplicates = len(keep) - len(unique)
            keep = unique
    if len(keep) == size:
        checked.columns = clean
    else:
        checked.columns = {name: [values[p] for p in keep] for name, values in clean.items()}
    return checked


async def quarantine_rows(
    conn: AsyncConnection,
    kind: str,
    rejected: Sequence[Rejection],
    raws: Sequence[Mapping[str, Any]],
) -> None:
    """Keep rejected rows with their raw input and the reason."""
    if not rejected:
        return
    await conn.execute(
        quarantine.insert(),
        [
            {
                "kind": kind,
                "row_index": r.index,
                "field": r.field,
                "message": r.message,
                "raw": _kept(raw),
            }
            for r, raw in zip(rejected, raws, strict=True)
        ],
    )


async def write_checked(
    conn: AsyncConnection, kind: IngestKind, checked: CheckedBatch
) -> IngestOutcome:
    """Store a checked batch on conn (the caller owns the transaction)."""
    tally = await copy_insert(
        conn, kind.table, checked.columns, kind.conflict_target, kind.tally, kind.feed
    )
    return await settle(conn, kind, checked, tally)


async def settle(
    conn: AsyncConnection,
    kind: IngestKind,
    checked: CheckedBatch,
    tally: Sequence[RowMapping],
    recorded: bool = True,
) -> IngestOutcome:
    """After the valid rows went in (and into the rollups, by the same statement):
    record them (unless the caller records a larger tally later, in the same
    transaction), quarantine the rest, count. Every writer calls this once per
    batch, in its transaction, with the writer's tally of what went in."""
    if recorded:
        await record(conn, kind, tally)
    await quarantine_rows(conn, kind.kind, checked.rejected, checked.rejected_raw)
    accepted = inserted_rows(tally)
    return IngestOutcome(
        accepted=accepted,
        duplicates=checked.size - accepted + checked.in_batch_duplicates,
        rejected=list(checked.rejected),
    )


async def record(conn: AsyncConnection, kind: IngestKind, tally: Sequence[RowMapping]) -> None:
    """Register the entities of inserted rows, add them to the row count and tell the
    live watchers, from their tally."""
    if tally and kind.register is not None:
        await kind.register(conn, tally)
    accepted = inserted_rows(tally)
    if accepted:
        await add_rows(conn, kind.table.name, accepted)
    # Live updates: delivered to every gateway's LISTEN when this transaction commits.
    await notify.publish_ingest(conn, kind.kind, tally)


async def ingest_batch(
    db: Database, kind: IngestKind, raws: Sequence[Mapping[str, Any]], context: RowContext
) -> IngestOutcome:
    """Validate and store one batch in one transaction."""
    if len(raws) < THREAD_ROWS:
        return await store(db, kind, check_batch(kind, raws, context))
    # Validating a large batch is CPU work: off the event loop, so others keep being served.
    return await store(db, kind, await asyncio.to_thread(check_batch, kind, raws, context))


async def store(db: Database, kind: IngestKind, checked: CheckedBatch) -> IngestOutcome:
    """Store a checked batch in one transaction, or raise IngestFailed."""
    async with refusals(), db.write() as conn:
        return await write_checked(conn, kind, checked)


@asynccontextmanager
async def refusals(what: str = "batch") -> AsyncIterator[None]:
    """Turn a database fault inside the block into IngestFailed, naming the reason.

    Wrap the whole transaction, so the fault means nothing of it was stored.
    """
    try:
        yield
    except (SQLAlchemyError, psycopg.Error) as error:
        # The cause is logged for the operator, never shown: it may name internals.
        logger.warning("the database refused the %s: %r", what, getattr(error, "orig", error))
        pronoun = "them" if what.endswith("s") else "it"
        raise IngestFailed(
            f"the database refused the {what}; nothing of {pronoun} was stored, "
            f"and sending {pronoun} again is safe"
        ) from error


def _kept(raw: Mapping[str, Any]) -> Any:
    """A rejected row as the quarantine keeps it: as JSON, or, nested too deeply for
    that, as a shortened text."""
    try:
        return jsonable(raw)
    except RecursionError:
        return {"unkept": "nested too deeply to keep as JSON", "text": _short(raw)}


def _short(value: Any) -> str:
    """repr of value, at most 8 levels deep and with long strings cut."""
    short = reprlib.Repr()
    short.maxlevel, short.maxstring = 8, 200
    return short.repr(value)


def jsonable(value: Any) -> Any:
    """A raw row made storable as JSON: date-times as ISO text, the rest as given."""
    if isinstance(value, Mapping):
        return {jsonable(str(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):  # jsonb cannot hold NUL: keep it visible as an escape
        return value.replace("\x00", "\\u0000")
    if isinstance(value, float) and not math.isfinite(value):  # no JSON form
        return None
    if hasattr(value, "value") and not isinstance(value, str | int | float | bool):
        return jsonable(value.value)  # enums
    return value
