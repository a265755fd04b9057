"""Rollups of a fact table, declared beside its measures.

A rollup row holds mergeable parts (counts and sums add, maxima take the
greatest, latency sketches add bin by bin; see db.sketch) for one entity,
one time bucket and one grouping: ``dimension`` is "" for the entity's totals
or a dimension key, and ``group_key`` that dimension's text. Rows are only
appended: each ingest batch adds its own rows (db.rolled), so one key may have
several rows, and every reader merges them. Compaction (db.compaction) folds a
key's rows into one (or into one beside the key's large base row), flagged
``compacted``, in a single statement, which no reader can tell from before.
Two grains:
hourly rows of the totals (timeseries, and the hours at the edges of a
range; of each dimension too where a fact's dimensions have few values, as a
model's) and daily rows of the totals and of each single dimension
(breakdowns, long ranges, a filter on one dimension's values). One row per
dimension value, not per combination of dimensions, keeps them small: a
question with filters on two dimensions is answered from raw rows instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    LargeBinary,
    Table,
    Text,
    cast,
    false,
    func,
    null,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from db import hash_sets, sketch
from db.compiler import bytes_joined, rate
from db.tables import metadata

SUM, MAX, SKETCH, SET, VALUES = "sum", "max", "sketch", "set", "values"
TOTALS = ""  # the grouping of an entity's totals
KEY = ("entity", "dimension", "group_key", "bucket")  # a rollup row's key (not unique)
COMPACTED = "compacted"  # whether a row is its key's only one, made by compaction

Parts = Mapping[str, ColumnElement[Any]]


@dataclass(frozen=True)
class Part:
    """One stored column of a rollup: its aggregate over raw rows and how rows merge."""

    raw: ColumnElement[Any]
    merge: str
    type_: TypeEngine[Any]
    source: ColumnElement[Any] | None = None  # the sketched column
    totals_only: bool = False  # null in the rows of a dimension's groups
    hourly_only: bool = False  # null in the daily rows
    settled: bool = False  # of columns an update never changes (moved() leaves it null)

    def kept(self, grain: Grain) -> bool:
        """Whether rows of grain hold this part (null otherwise)."""
        return not (self.hourly_only and grain.unit != "hour")

    def negated(self, raw: ColumnElement[Any]) -> ColumnElement[Any]:
        """This part's aggregate raw, taken back: what a row that changed held before
        is appended with it, so the key's merge is as if the row had never been.
        Only sums can be taken back; a maximum stays (its row is still stored)."""
        if self.merge == SUM:
            return -raw
        if self.merge == MAX:
            return self.nothing()
        raise ValueError(f"a {self.merge} part cannot be taken back")

    def nothing(self) -> ColumnElement[Any]:
        """The part's null, typed (a NULL in a UNION is text otherwise)."""
        return cast(null(), self.type_)

    def merged(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """This part over many rollup rows (an aggregate), typed as over raw rows.

        Questions read a group's sketches and sets as they are and finish them in
        Python instead (db.sketch.quantile, db.hash_sets.count_union).
        """
        if self.merge == SUM:
            return cast(func.sum(column), self.type_)
        if self.merge == MAX:
            return func.max(column)
        if self.merge == SET:
            return hash_sets.union(column)
        if self.merge == VALUES:
            return bytes_joined(column)
        return sketch.concatenated(column)


@dataclass(frozen=True)
class Rolled:
    """A measure over merged parts and the parts it reads (only those are computed),
    or a percentile of a sketch part, or the count of a set part's union."""

    parts: tuple[str, ...] = ()
    build: Callable[[Parts], ColumnElement[Any]] | None = None
    sketch: str | None = None
    fraction: float = 0.0
    counted_set: str | None = None


@dataclass(frozen=True)
class Grain:
    """One rollup table: its bucket width, and whether it holds dimension groupings."""

    unit: str
    step: timedelta
    table: Table
    by_dimension: bool


@dataclass(frozen=True)
class Rollup:
    """A fact's hourly rollup: its table, parts, and each rollable measure over parts.

    A measure absent from ``measures`` (a mode) has no exact mergeable form: a
    question asking for it is answered from raw rows, as is a distinct count by
    dimension (sets are kept for totals only).
    """

    grains: tuple[Grain, ...]  # coarsest first
    parts: Mapping[str, Part]
    measures: Mapping[str, Rolled]
    rank: str


def count_part(condition: ColumnElement[bool] | None = None) -> Part:
    """Rows (that meet condition)."""
    counted = func.count() if condition is None else func.count().filter(condition)
    return Part(counted, SUM, BigInteger())


def sum_part(column: ColumnElement[Any]) -> Part:
    """Sum of a numeric column's non-null values."""
    return Part(func.sum(column), SUM, Float())


def present_part(column: ColumnElement[Any]) -> Part:
    """Non-null values of a column."""
    return Part(func.count(column), SUM, BigInteger())


def max_part(column: ColumnElement[Any]) -> Part:
    """Greatest value of a column."""
    return Part(func.max(column), MAX, column.type)


def sketch_part(column: ColumnElement[Any]) -> Part:
    """A log-bucket sketch of a column's non-null values (db.sketch)."""
    return Part(sketch.built(column), SKETCH, ARRAY(BigInteger()), source=column)


def set_part(column: ColumnElement[str]) -> Part:
    """The distinct values of a text column, as a set of hashes (db.hash_sets), kept
    for an entity's totals only (a dimension's groups are answered from raw rows)."""
    return Part(hash_sets.hash_set(column), SET, LargeBinary(), totals_only=True)


def values_part(column: ColumnElement[Any]) -> Part:
    """Every non-null value of a float column, 8 bytes each (float8send), one after
    another in no order: for a statistic that needs the values themselves (the
    exact deciles of drift's PSI, db.models). Kept in hourly rows only (the PSI's
    windows end at the clock, so whole days would seldom serve them), and never
    moved by an update of the row (settled: the column is not one an update sets)."""
    return Part(
        bytes_joined(func.float8send(column)), VALUES, LargeBinary(), hourly_only=True, settled=True
    )


def distinct(name: str) -> Rolled:
    """The count of distinct values of a set part, counted by the reader (db.hash_sets)."""
    return Rolled(counted_set=name)


def mean(total: str, present: str) -> Rolled:
    """The average from a sum part and a count part (null over no values)."""
    return Rolled((total, present), lambda p: p[total] / func.nullif(p[present], 0))


def ratio(numerator: str, denominator: str) -> Rolled:
    """A rate of two count parts, as the raw measure computes it (0 over no rows)."""
    return Rolled((numerator, denominator), lambda p: rate(p[numerator], p[denominator]))


def quantile(sketch: str, fraction: float) -> Rolled:
    """A percentile from a sketch part, within the sketch's relative error."""
    return Rolled(sketch=sketch, fraction=fraction)


def root_mean(total: str, present: str) -> Rolled:
    """The square root of an average (a root mean square from a sum of squares)."""
    return Rolled((total, present), lambda p: func.sqrt(p[total] / func.nullif(p[present], 0)))


def part(name: str) -> Rolled:
    """A measure that is one merged part as it is (a count, a maximum)."""
    return Rolled((name,), lambda p: p[name])


def grains(
    fact_name: str, parts: Mapping[str, Part], *, hourly_dimensions: bool = False
) -> tuple[Grain, ...]:
    """A fact's daily (totals and dimensions) and hourly rollup tables; hourly ones
    hold the totals only, unless the dimensions have so few values that keeping
    their hours costs little (a model's environments and versions)."""
    return (
        Grain("day", timedelta(days=1), _table(f"{fact_name}_daily", parts), True),
        Grain("hour", timedelta(hours=1), _table(f"{fact_name}_hourly", parts), hourly_dimensions),
    )


def _table(name: str, parts: Mapping[str, Part]) -> Table:
    """A rollup table: appended rows of parts under a key that leads with the entity
    (Citus rule), not unique (see the module's docstring)."""
    return Table(
        name,
        metadata,
        Column("entity", Text, nullable=False),
        Column("dimension", Text, nullable=False),
        Column("group_key", Text, nullable=False),
        Column("bucket", DateTime(timezone=True), nullable=False),
        *[Column(name, p.type_) for name, p in parts.items()],
        Column(COMPACTED, Boolean, nullable=False, server_default=false()),
        Index(f"ix_{name}_key", *KEY),
        # The keys with rows still to compact, found without reading the whole table.
        Index(f"ix_{name}_pending", *KEY, postgresql_where=text(f"NOT {COMPACTED}")),
    )


def aligned(start: datetime, end: datetime, step: timedelta) -> tuple[datetime, datetime] | None:
    """The whole buckets of width step (from the epoch, UTC) inside [start, end)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = epoch + -((epoch - start) // step) * step  # start rounded up
    last = epoch + ((end - epoch) // step) * step  # end rounded down
    return (first, last) if first < last else None
