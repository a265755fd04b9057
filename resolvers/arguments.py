"""Turning GraphQL arguments into checked values: ranges, page sizes, cursors,
filters and the measures a query selected."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from db.compiler import FilterValues
from resolvers.errors import bad_input
from schema.common import TimeRange

DEFAULT_SPAN = timedelta(hours=24)


def utc(value: datetime) -> datetime:
    """A datetime in UTC; one without an offset is taken as UTC (contract)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def time_window(
    range_: TimeRange | None, now: datetime, argument: str = "range"
) -> tuple[datetime, datetime]:
    """[from, to) with the contract's defaults: to = now, from = to - 24 h."""
    end = utc(range_.to) if range_ and range_.to else now
    start = utc(range_.from_) if range_ and range_.from_ else end - DEFAULT_SPAN
    if start > end:
        raise bad_input(
            f"{argument}.from is after {argument}.to ({start.isoformat()} > {end.isoformat()})",
            argument,
        )
    return start, end


def page_size(first: int, maximum: int, argument: str = "first") -> int:
    """A page size within 0..maximum, or a clear error."""
    if not 0 <= first <= maximum:
        raise bad_input(f"{argument} must be between 0 and {maximum}, got {first}", argument)
    return first


def bounded(value: int, low: int, high: int, argument: str) -> int:
    """An integer argument within [low, high], or a clear error."""
    if not low <= value <= high:
        raise bad_input(f"{argument} must be between {low} and {high}, got {value}", argument)
    return value


def encode_cursor(kind: str, *values: Any) -> str:
    """An opaque cursor: the keyset position, tagged with what it pages."""
    payload = [kind, *[v.isoformat() if isinstance(v, datetime) else v for v in values]]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode()


def decode_cursor(
    cursor: str | None, kind: str, arity: int, types: tuple[type, ...] | None = None
) -> list[Any] | None:
    """The values inside a cursor from encode_cursor(kind, ...), or a clear error.

    types, when given, is the expected type of each value (a forged cursor must
    not reach SQL with a value of the wrong type).
    """
    if cursor is None:
        return None
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        payload = None
    if not isinstance(payload, list) or len(payload) != arity + 1 or payload[0] != kind:
        raise _not_a_cursor(cursor)
    values = payload[1:]
    if types is not None and not all(
        isinstance(v, t) and not isinstance(v, bool) for v, t in zip(values, types, strict=True)
    ):
        raise _not_a_cursor(cursor)
    return values


def decode_time_cursor(
    cursor: str | None, kind: str, id_type: type | None = None
) -> tuple[datetime, Any] | None:
    """A (timestamp, id) keyset position from a cursor of newest-first lists."""
    values = decode_cursor(cursor, kind, 2, None if id_type is None else (str, id_type))
    if values is None:
        return None
    try:
        return utc(datetime.fromisoformat(values[0])), values[1]
    except (TypeError, ValueError):
        raise _not_a_cursor(cursor) from None


def _not_a_cursor(cursor: str | None) -> Exception:
    return bad_input(f"after: {cursor!r} is not a cursor of this list", "after")


def filter_values(filter_: Any, names: Iterable[str]) -> tuple[tuple[str, FilterValues], ...]:
    """(filter key, values) pairs from a filter input; null lists do not filter."""
    if filter_ is None:
        return ()
    given: dict[str, Any] = (
        {f.name: getattr(filter_, f.name) for f in fields(filter_)}
        if is_dataclass(filter_)
        else dict(vars(filter_))
    )
    pairs = []
    for name in names:
        values = given.get(_snake(name))
        if values is not None:
            pairs.append((name, tuple(values)))
    return tuple(pairs)


def selected_measures(
    info: Info[Any, Any], measures: Mapping[str, Any], *path: str
) -> frozenset[str]:
    """The measures (snake_case) selected below the current field, following path.

    Every item of a list selects the same, so the answer is kept for the request
    (keyed by the field's syntax nodes, which live as long as the request).
    """
    memo = info.context["gateway"].memo
    key = (tuple(map(id, info._raw_info.field_nodes)), path, id(measures))
    if key not in memo:
        memo[key] = _selected(info, measures, path)
    found: frozenset[str] = memo[key]
    return found


def _selected(
    info: Info[Any, Any], measures: Mapping[str, Any], path: tuple[str, ...]
) -> frozenset[str]:
    current = _fields(info.selected_fields)
    for name in path:
        current = [
            child for field in current for child in _fields(field.selections) if child.name == name
        ]
    wanted = {_snake(child.name) for field in current for child in _fields(field.selections)}
    return frozenset(wanted & measures.keys())


def _fields(selections: Iterable[Selection]) -> list[SelectedField]:
    found: list[SelectedField] = []
    for selection in selections:
        if isinstance(selection, FragmentSpread | InlineFragment):
            found.extend(_fields(selection.selections))
        else:
            found.append(selection)
    return found


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
