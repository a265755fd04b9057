"""A batch checked a column at a time, by the same rules as a single row.

A kind declares its fields in order (`Field`): the input name, the stored
column, the per-value rule from db.ingest.fields (which names what is wrong),
and a whole-column rule that accepts a column with a few C-level passes (the
set of value types, a join for NUL characters, min and max). Only a column
the fast rule does not accept is walked value by value, and a row's rejection
is the first field in declared order whose rule refuses it: what checking the
row alone would say. Values derived from several fields (a default, a flag
implied by another field) are set afterwards over whole columns (`Shape.finish`).

A 5,000-row body of product events is parsed and checked in 45 ms this way
(decoded into columns by gateway.event_rows), against 158 ms row by row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from db.ingest.fields import (
    MAX_DEPTH,
    RowError,
    integer,
    number,
    optional_bool,
    optional_text,
    required_text,
    timestamp,
    unstorable,
)

NONE = type(None)
ZERO = timedelta(0)
Column = list[Any]


@dataclass(frozen=True)
class RowContext:
    """What a check needs besides the values: the server clock and its tolerance."""

    now: datetime
    future_tolerance: timedelta


ValueRule = Callable[[Mapping[str, Any], str, RowContext], Any]
ColumnRule = Callable[[Column, RowContext], Column | None]


@dataclass(frozen=True)
class Field:
    """One input field: where it is stored, its per-value rule and its whole-column rule.

    value: the clean value of ``{name: v}``, or RowError naming what is wrong;
    fast: the clean column when every value passes, else None (then the
    per-value rule finds the rows at fault). fast may refuse more than value
    does (it is only quicker), never less (tests/test_column_checks.py).
    """

    name: str
    column: str
    value: ValueRule
    fast: ColumnRule


Finish = Callable[[dict[str, Column], RowContext], None]


@dataclass(frozen=True)
class Shape:
    """A kind's fields in the order they are checked, and what is derived from them."""

    fields: tuple[Field, ...]
    finish: Finish | None = None

    def check(
        self, columns: Mapping[str, Column], size: int, context: RowContext
    ) -> tuple[dict[str, Column], dict[int, RowError]]:
        """The clean columns (a rejected row's slots hold None) and each rejected row's
        first error, by position. columns: input values by field name."""
        clean: dict[str, Column] = {}
        refused: dict[int, RowError] = {}
        for field in self.fields:
            values = columns.get(field.name)
            if values is None:
                values = [None] * size
            # The fast rules may assume values (min and max of none are errors).
            out = field.fast(values, context) if size else []
            if out is None:
                out = self._walk(field, values, context, refused)
            clean[field.column] = out
        if self.finish is not None:
            self.finish(clean, context)
        return clean, refused

    @staticmethod
    def _walk(
        field: Field, values: Column, context: RowContext, refused: dict[int, RowError]
    ) -> Column:
        out: Column = []
        for position, value in enumerate(values):
            try:
                out.append(field.value({field.name: value}, field.name, context))
            except RowError as error:
                refused.setdefault(position, error)
                out.append(None)
        return out


def _kinds(values: Column) -> set[type]:
    return set(map(type, values))


def _present(values: Column, kinds: set[type]) -> Column:
    return [v for v in values if v is not None] if NONE in kinds else values


def _no_nul(present: Column) -> bool:
    return "\x00" not in "".join(present)


def text(name: str, column: str, *, required: bool = False, empty_is_null: bool = False) -> Field:
    """A string without NUL (required: present and not blank); empty_is_null: "" stored as null."""

    def value(raw: Mapping[str, Any], field: str, context: RowContext) -> Any:
        found = required_text(raw, field) if required else optional_text(raw, field)
        return found or None if empty_is_null else found

    def fast(values: Column, context: RowContext) -> Column | None:
        kinds = _kinds(values)
        if not kinds <= {str, NONE} or (required and NONE in kinds):
            return None
        present = _present(values, kinds)
        if not _no_nul(present) or (required and not all(map(str.strip, present))):
            return None
        return [v or None for v in values] if empty_is_null else values

    return Field(name, column, value, fast)


def text_or(name: str, column: str, default: str) -> Field:
    """An optional string that must not be blank when given; absent is default."""

    def value(raw: Mapping[str, Any], field: str, context: RowContext) -> Any:
        found = optional_text(raw, field)
        if found is None:
            return default
        if not found.strip():
            raise RowError(field, f"{field} must not be empty (omit it for {default})")
        return found

    def fast(values: Column, context: RowContext) -> Column | None:
        kinds = _kinds(values)
        if not kinds <= {str, NONE}:
            return None
        present = _present(values, kinds)
        if not _no_nul(present) or not all(map(str.strip, present)):
            return None
        return [default if v is None else v for v in values] if NONE in kinds else values

    return Field(name, column, value, fast)


def number_field(
    name: str, column: str, *, required: bool = False, non_negative: bool = False
) -> Field:
    """A finite number, stored as float (required: present; non_negative: at least 0)."""

    def value(raw: Mapping[str, Any], field: str, context: RowContext) -> Any:
        return number(raw, field, required=required, non_negative=non_negative)

    def fast(values: Column, context: RowContext) -> Column | None:
        kinds = _kinds(values)
        if not kinds <= {float, int, NONE} or (required and NONE in kinds):
            return None
        try:
            present: list[float] = list(map(float, _present(values, kinds)))
            out: Column = (
                [None if v is None else float(v) for v in values] if NONE in kinds else present
            )
        except OverflowError:  # an integer too large for a float: per value
            return None
        if not all(map(math.isfinite, present)) or (non_negative and present and min(present) < 0):
            return None
        return out

    return Field(name, column, value, fast)


def integer_field(name: str, column: str, low: int, high: int) -> Field:
    """A required whole number within [low, high] (a whole float is checked per value)."""

    def value(raw: Mapping[str, Any], field: str, context: RowContext) -> Any:
        return integer(raw, field, low=low, high=high)

    def fast(values: Column, context: RowContext) -> Column | None:
        if _kinds(values) != {int} or min(values) < low or max(values) > high:
            return None
        return values

    return Field(name, column, value, fast)


def flag(name: str, column: str) -> Field:
    """true, false or null."""

    def value(raw: Mapping[str, Any], field: str, context: RowContext) -> Any:
        return optional_bool(raw, field)

    def fast(values: Column, context: RowContext) -> Column | None:
        return values if _kinds(values) <= {bool, NONE} else None

    return Field(name, column, value, fast)


def moment(name: str, column: str, *, default_now: bool = False) -> Field:
    """A required ISO-8601 date-time as UTC, at most the tolerance ahead of the server
    clock (default_now: absent is the server clock)."""

    def value(raw: Mapping[str, Any], field: str, context: RowContext) -> Any:
        if default_now and raw.get(field) is None:
            return context.now
        return timestamp(raw, field, now=context.now, tolerance=context.future_tolerance)

    def fast(values: Column, context: RowContext) -> Column | None:
        if default_now and None in values:
            return None
        kinds = _kinds(values)
        try:
            if kinds == {str}:
                texts = list(map(str.strip, values))
                out = list(map(datetime.fromisoformat, texts))
                if {d.tzinfo for d in out} == {None}:  # all naive, so UTC: parsed again
                    out = [datetime.fromisoformat(t + "+00:00") for t in texts]
            elif kinds == {datetime}:
                out = values
            else:
                return None
        except ValueError:
            return None
        if {d.utcoffset() for d in out} != {ZERO}:  # replace() costs 2 µs a value: only here
            out = [d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC) for d in out]
        if out and max(out) > context.now + context.future_tolerance:
            return None
        return out

    return Field(name, column, value, fast)


def document(name: str, column: str) -> Field:
    """Any JSON value or null that Postgres can store: no NUL character and no
    non-finite number anywhere in it, nested at most MAX_DEPTH levels."""

    def value(raw: Mapping[str, Any], field: str, context: RowContext) -> Any:
        found = raw.get(field)
        if found is not None and not isinstance(found, dict | list | str | int | float):
            raise RowError(field, f"{field} must be JSON")
        if (problem := unstorable(found)) is not None:
            raise RowError(field, f"{field} {problem}")
        return found

    def fast(values: Column, context: RowContext) -> Column | None:
        if _kinds(values) == {NONE}:
            return values
        try:  # NUL is written as \\u0000; a non-finite number or a non-JSON value raises
            texts = list(map(_strict_json, values))
        except (TypeError, ValueError, RecursionError):
            return None
        # A document nested deeper than MAX_DEPTH is longer than 2 * MAX_DEPTH characters.
        if max(map(len, texts)) > 2 * MAX_DEPTH or "\\u0000" in "\n".join(texts):
            return None
        return values

    return Field(name, column, value, fast)


def _strict_json(value: Any) -> str:
    return json.dumps(value, allow_nan=False)


def per_value(name: str, column: str, check: Callable[[Mapping[str, Any]], Any]) -> Field:
    """A field with only a per-value rule (check reads the row {name: value})."""

    def value(raw: Mapping[str, Any], field: str, context: RowContext) -> Any:
        return check(raw)

    def fast(values: Column, context: RowContext) -> Column | None:
        return None

    return Field(name, column, value, fast)


def columns_of(rows: Sequence[Mapping[str, Any]], shape: Shape) -> dict[str, Column]:
    """Input rows (mappings by field name) as the shape's input columns."""
    return {field.name: [row.get(field.name) for row in rows] for field in shape.fields}
