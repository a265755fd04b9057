"""Meaning checks for one submitted row, shared by every ingest kind.

Each reader takes the raw row (camelCase keys, as in the contract's input
objects, whether it came from GraphQL or a file), returns the clean value or
raises RowError naming the field at fault.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any


class RowError(Exception):
    """A submitted row that cannot be stored, and the field at fault."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def required_text(raw: Mapping[str, Any], field: str) -> str:
    """A non-empty string (surrounding blanks do not count)."""
    value = optional_text(raw, field)
    if value is None or not value.strip():
        raise RowError(field, f"{field} is required and must not be empty")
    return value


def optional_text(raw: Mapping[str, Any], field: str) -> str | None:
    """A string or null; the empty string is kept as given."""
    value = raw.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RowError(field, f"{field} must be a string, got {type(value).__name__}")
    if "\x00" in value:
        raise RowError(field, f"{field} must not contain NUL characters")
    return value


def number(
    raw: Mapping[str, Any], field: str, *, required: bool = False, non_negative: bool = False
) -> float | None:
    """A finite number, optionally required and at least 0."""
    value = raw.get(field)
    if value is None:
        if required:
            raise RowError(field, f"{field} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RowError(field, f"{field} must be a number, got {value!r}")
    try:
        result = float(value)
    except OverflowError:  # a whole number too large for a double
        result = math.inf
    if not math.isfinite(result):
        raise RowError(field, f"{field} must be finite, got {value!r}")
    if non_negative and result < 0:
        raise RowError(field, f"{field} must not be negative, got {value!r}")
    return result


def integer(raw: Mapping[str, Any], field: str, *, low: int, high: int) -> int:
    """A required whole number within [low, high]."""
    value = raw.get(field)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RowError(field, f"{field} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise RowError(field, f"{field} must be within {low}..{high}, got {value}")
    return value


def optional_bool(raw: Mapping[str, Any], field: str) -> bool | None:
    """true, false or null."""
    value = raw.get(field)
    if value is not None and not isinstance(value, bool):
        raise RowError(field, f"{field} must be true or false, got {value!r}")
    return value


def timestamp(
    raw: Mapping[str, Any], field: str, *, now: datetime, tolerance: timedelta
) -> datetime:
    """A UTC datetime (ISO-8601 text or datetime) at most tolerance ahead of now."""
    value = raw.get(field)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise RowError(field, f"{field} is not an ISO-8601 date-time: {value!r}") from None
    if not isinstance(value, datetime):
        raise RowError(field, f"{field} is required and must be a date-time")
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value > now + tolerance:
        ahead = int((value - now).total_seconds())
        raise RowError(
            field,
            f"{field} {value.isoformat()} is {ahead} s ahead of the server clock "
            f"(at most {int(tolerance.total_seconds())} s allowed)",
        )
    return value


# Magnitudes no argument of the contract needs, whose arithmetic could overflow.
LARGEST, SMALLEST = 1e15, 1e-15
# Deeper JSON documents are refused: encoding them for the database would exhaust
# Python's stack (the standard library's encoder recurses per level).
MAX_DEPTH = 512


def unstorable(value: Any, bounded: bool = False) -> str | None:
    """Why the database would refuse a value (a NUL in a string or key, a non-finite
    number, nesting deeper than MAX_DEPTH; bounded: also a magnitude outside
    [SMALLEST, LARGEST]), or None. Walked without recursion, so no depth of input
    can exhaust the stack here."""
    if not isinstance(value, dict | list | tuple):  # most values: no walk at all
        return _scalar_problem(value, bounded)
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list | tuple):
            if (problem := _scalar_problem(item, bounded)) is not None:
                return problem
        elif depth >= MAX_DEPTH:
            return f"is nested more than {MAX_DEPTH} levels deep"
        else:
            inner = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((part, depth + 1) for part in reversed(inner))
    return None


def _scalar_problem(value: Any, bounded: bool) -> str | None:
    if isinstance(value, str):
        return "must not contain NUL characters" if "\x00" in value else None
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        magnitude = abs(value)
        if bounded and (magnitude > LARGEST or 0 < magnitude < SMALLEST):
            return f"is out of range ({value!r}; magnitudes from {SMALLEST} to {LARGEST})"
    return None
