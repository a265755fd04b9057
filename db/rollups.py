"""Hourly rollups of a fact table, declared beside its measures.

A rollup row holds mergeable parts (counts and sums add, maxima take the
greatest, latency sketches add bin by bin; see db.sketch) for one entity,
one hour and one grouping: ``dimension`` is "" for the entity's totals or a
dimension key, and ``group_key`` that dimension's text. One row per
grouping value, not per combination of dimensions, keeps the table small:
a question with filters is answered from raw rows instead.
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
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from db.compiler import rate
from db.tables import metadata

GRAIN = timedelta(hours=1)
SUM, MAX, SKETCH = "sum", "max", "sketch"
TOTALS = ""  # the grouping of an entity's totals

Parts = Mapping[str, ColumnElement[Any]]


@dataclass(frozen=True)
class Part:
    """One stored column of a rollup: its aggregate over raw rows and how rows merge."""

    raw: ColumnElement[Any]
    merge: str
    type_: TypeEngine[Any]

    def merged(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """The part over many rollup rows, typed as over raw rows."""
        if self.merge == SUM:
            return cast(func.sum(column), self.type_)
        if self.merge == MAX:
            return func.max(column)
        return func.sketch_merge(column)

    def combined(self, stored: ColumnElement[Any], new: ColumnElement[Any]) -> ColumnElement[Any]:
        """A stored rollup value with a new batch's value for the same row folded in."""
        if self.merge == SUM:
            return func.coalesce(stored, 0) + func.coalesce(new, 0)
        if self.merge == MAX:
            return func.greatest(stored, new)
        return func.sketch_add(stored, new)


@dataclass(frozen=True)
class Rolled:
    """A measure over merged parts, and the parts it reads (only those are computed)."""

    parts: tuple[str, ...]
    build: Callable[[Parts], ColumnElement[Any]]


@dataclass(frozen=True)
class Rollup:
    """A fact's hourly rollup: its table, parts, and each rollable measure over parts.

    A measure absent from ``measures`` (an exact distinct count, a mode) has no
    exact mergeable form: a question asking for it is answered from raw rows.
    """

    table: Table
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
    return Part(func.sketch_pack(func.array_agg(func.sketch_bin(column))), SKETCH, JSONB())


def mean(total: str, present: str) -> Rolled:
    """The average from a sum part and a count part (null over no values)."""
    return Rolled((total, present), lambda p: p[total] / func.nullif(p[present], 0))


def ratio(numerator: str, denominator: str) -> Rolled:
    """A rate of two count parts, as the raw measure computes it (0 over no rows)."""
    return Rolled((numerator, denominator), lambda p: rate(p[numerator], p[denominator]))


def quantile(sketch: str, fraction: float) -> Rolled:
    """A percentile from a sketch part, within the sketch's relative error."""
    return Rolled((sketch,), lambda p: func.sketch_quantile(p[sketch], fraction))


def part(name: str) -> Rolled:
    """A measure that is one merged part as it is (a count, a maximum)."""
    return Rolled((name,), lambda p: p[name])


def rollup_table(fact_name: str, parts: Mapping[str, Part]) -> Table:
    """The hourly rollup table of a fact; its key leads with the entity (Citus rule)."""
    return Table(
        f"{fact_name}_hourly",
        metadata,
        Column("entity", Text, nullable=False),
        Column("dimension", Text, nullable=False),
        Column("group_key", Text, nullable=False),
        Column("bucket", DateTime(timezone=True), nullable=False),
        *[Column(name, p.type_) for name, p in parts.items()],
        PrimaryKeyConstraint("entity", "dimension", "group_key", "bucket"),
    )


def aligned(start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
    """The whole hours inside [start, end), or None when there is none."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = epoch + -((epoch - start) // GRAIN) * GRAIN  # start rounded up
    last = epoch + ((end - epoch) // GRAIN) * GRAIN  # end rounded down
    return (first, last) if first < last else None
