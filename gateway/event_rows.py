"""NDJSON bodies of the Tinybird-style events API as checked ingest batches.

Field names are the contract's input fields in snake_case (``event_id``,
``page_load_time_ms``); camelCase names are accepted as they are. A body
of snake_case lines is decoded into columns in one msgspec call; any other
body is parsed line by line into the input objects a mutation receives.
Either way the rows go through the kind's Shape (db.ingest.shape), so every
path stores and counts alike. A rejected row's index is its 1-based line
number in the body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import orjson
from strawberry.utils.str_converters import to_camel_case, to_snake_case

from db.ingest.api_requests import API_REQUEST
from db.ingest.batch import CheckedBatch, IngestKind, Rejection, check_columns
from db.ingest.fields import RowError
from db.ingest.metric_samples import METRIC_SAMPLE
from db.ingest.predictions import PREDICTION
from db.ingest.product_events import PRODUCT_EVENT
from db.ingest.shape import RowContext
from gateway.load import check_lines
from gateway.load_formats import BadLine, Line, ndjson_body, object_columns


@dataclass(frozen=True)
class DataSource:
    """An events data source: its ingest kind and the field naming its resource."""

    kind: IngestKind
    resource_field: str


DATA_SOURCES = {
    "product_events": DataSource(PRODUCT_EVENT, "productId"),
    "api_requests": DataSource(API_REQUEST, "endpoint"),
    "ml_model_predictions": DataSource(PREDICTION, "modelId"),
    "metrics": DataSource(METRIC_SAMPLE, "name"),
}
# Tinybird sends booleans as UInt8 (0/1).
_BOOLEAN_FIELDS = frozenset({"isError"})


# snake_case -> camelCase of every field name seen; a dict lookup per key is the
# cheapest renaming there is, and bodies repeat the same dozen names.
_CAMEL: dict[str, str] = {}


def _camel(name: str) -> str:
    _CAMEL[name] = to_camel_case(name) if "_" in name else name
    return _CAMEL[name]


def input_object(line: dict[str, Any]) -> dict[str, Any]:
    """A line as the contract's input object: camelCase keys, 0/1 booleans as booleans."""
    camel = _CAMEL.get
    row = {camel(key) or _camel(key): value for key, value in line.items()}
    for name in _BOOLEAN_FIELDS & row.keys():
        value = row[name]
        if type(value) is int and value in (0, 1):
            row[name] = bool(value)
    return row


def _lines(body: bytes, source: DataSource, sees: Callable[[str], bool]) -> Iterator[Line]:
    """Numbered input objects; a row for a resource the caller may not see is a BadLine."""
    for number, line in ndjson_body(body):
        if isinstance(line, BadLine):
            yield number, line
            continue
        row = input_object(line)
        resource = row.get(source.resource_field)
        if isinstance(resource, str) and not sees(resource):
            yield number, BadLine(source.resource_field, _refusal(source, resource), row)
            continue
        yield number, row


def _refusal(source: DataSource, resource: str) -> str:
    return f"this token may not write to {source.resource_field} {resource!r}"


def _columns(body: bytes, source: DataSource) -> dict[str, list[Any]] | None:
    """The body's lines as input columns by contract field name, decoded in one call;
    None unless every line (the last may end in a newline) is one object of the
    source's snake_case fields."""
    fields = source.kind.shape.fields
    snake = object_columns(body, [to_snake_case(field.name) for field in fields])
    if snake is None:
        return None
    columns = {field.name: snake[to_snake_case(field.name)] for field in fields}
    for name in _BOOLEAN_FIELDS & columns.keys():
        values = columns[name]
        if int in set(map(type, values)):
            columns[name] = [bool(v) if type(v) is int and v in (0, 1) else v for v in values]
    return columns


def check_body(
    body: bytes,
    source: DataSource,
    now: datetime,
    future_tolerance: timedelta,
    sees: Callable[[str], bool],
) -> CheckedBatch:
    """Parse and validate a whole body; a row for a resource ``sees`` refuses is rejected.

    A body of the source's snake_case fields is decoded into columns in one msgspec
    call and checked column by column; any other body is parsed line by line and
    its rows checked the same way.
    """
    context = RowContext(now, future_tolerance)
    columns = _columns(body, source)
    if columns is None:
        return check_lines(source.kind, list(_lines(body, source, sees)), context)
    resources = columns[source.resource_field]
    named = {r for r in resources if isinstance(r, str)}  # few: ask once for each
    denied = {resource for resource in named if not sees(resource)}
    refused = (
        {
            position: RowError(source.resource_field, _refusal(source, resource))
            for position, resource in enumerate(resources)
            if isinstance(resource, str) and resource in denied
        }
        if denied
        else {}
    )
    texts: list[bytes] = []

    def raw_of(position: int) -> dict[str, Any]:
        if not texts:
            texts.extend(body.split(b"\n"))
        return input_object(orjson.loads(texts[position]))

    checked = check_columns(source.kind, columns, raw_of, context, refused)
    # Every line is a row: a rejected row's line number is its position plus one.
    checked.rejected = [replace(r, index=r.index + 1) for r in checked.rejected]
    return checked


def rejection_answer(rejection: Rejection) -> dict[str, Any]:
    """One rejected row as the events API reports it, in the sender's snake_case."""
    field = rejection.field
    reason = rejection.message
    if field is not None:
        snake = to_snake_case(field)
        reason = reason.replace(field, snake)
        field = snake
    return {"line": rejection.index, "field": field, "reason": reason}
