"""Rollups of a fact table, declared beside its measures.

A rollup row holds mergeable parts (counts and sums add, maxima take the
greatest, latency sketches add bin by bin; see db.sketch) for one entity,
one time bucket and one grouping: ``dimension`` is "" for the entity's totals
or a dimension key, and ``group_key`` that dimension's text. Two grains:
hourly rows of the totals (timeseries, and the hours at the edges of a
range) and daily rows of the totals and of each single dimension
(breakdowns, long ranges). One row per dimension value, not per combination
of dimensions, keeps them small: a question with filters is answered from
raw rows instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    PrimaryKeyConstraint,
    Table,
    Text,
    cast,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from db import sketch
from db.compiler import rate
from db.tables import metadata

SUM, MAX, SKETCH = "sum", "max", "sketch"
TOTALS = ""  # the grouping of an entity's totals

Parts = Mapping[str, ColumnElement[Any]]


@dataclass(frozen=True)
class Part:
    """One stored column of a rollup: its aggregate over raw rows and how rows merge."""

    raw: ColumnElement[Any]
    merge: str
    type_: TypeEngine[Any]
    source: ColumnElement[Any] | None = None  # the sketched column

    def merged(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """A count, sum or maximum over many rollup rows, typed as over raw rows.

        Sketches are merged bin by bin instead (db.sketch.quantiles).
        """
        if self.merge == SUM:
            return cast(func.sum(column), self.type_)
        return func.max(column)

    def combined(self, stored: ColumnElement[Any], new: ColumnElement[Any]) -> ColumnElement[Any]:
        """A stored rollup value with a new batch's value for the same row folded in."""
        if self.merge == SUM:
            return func.coalesce(stored, 0) + func.coalesce(new, 0)
        if self.merge == MAX:
            return func.greatest(stored, new)
        return sketch.added(stored, new)


@dataclass(frozen=True)
class Rolled:
    """A measure over merged parts and the parts it reads (only those are computed),
    or a percentile of a sketch part."""

    parts: tuple[str, ...] = ()
    build: Callable[[Parts], ColumnElement[Any]] | None = None
    sketch: str | None = None
    fraction: float = 0.0


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

    A measure absent from ``measures`` (an exact distinct count, a mode) has no
    exact mergeable form: a question asking for it is answered from raw rows.
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


def mean(total: str, present: str) -> Rolled:
    """The average from a sum part and a count part (null over no values)."""
    return Rolled((total, present), lambda p: p[total] / func.nullif(p[present], 0))


def ratio(numerator: str, denominator: str) -> Rolled:
    """A rate of two count parts, as the raw measure computes it (0 over no rows)."""
    return Rolled((numerator, denominator), lambda p: rate(p[numerator], p[denominator]))


def quantile(sketch: str, fraction: float) -> Rolled:
    """A percentile from a sketch part, within the sketch's relative error."""
    return Rolled(sketch=sketch, fraction=fraction)


def part(name: str) -> Rolled:
    """A measure that is one merged part as it is (a count, a maximum)."""
    return Rolled((name,), lambda p: p[name])


def grains(fact_name: str, parts: Mapping[str, Part]) -> tuple[Grain, ...]:
    """A fact's daily (totals and dimensions) and hourly (totals) rollup tables."""
    return (
        Grain("day", timedelta(days=1), _table(f"{fact_name}_daily", parts), True),
        Grain("hour", timedelta(hours=1), _table(f"{fact_name}_hourly", parts), False),
    )


def _table(name: str, parts: Mapping[str, Part]) -> Table:
    """A rollup table; its key leads with the entity (Citus rule)."""
    return Table(
        name,
        metadata,
        Column("entity", Text, nullable=False),
        Column("dimension", Text, nullable=False),
        Column("group_key", Text, nullable=False),
        Column("bucket", DateTime(timezone=True), nullable=False),
        *[Column(name, p.type_) for name, p in parts.items()],
        PrimaryKeyConstraint("entity", "dimension", "group_key", "bucket"),
    )


def aligned(start: datetime, end: datetime, step: timedelta) -> tuple[datetime, datetime] | None:
    """The whole buckets of width step (from the epoch, UTC) inside [start, end)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = epoch + -((epoch - start) // step) * step  # start rounded up
    last = epoch + ((end - epoch) // step) * step  # end rounded down
    return (first, last) if first < last else None
