"""Rows as CSV, streamed: pipes and dashboard widgets both export through here."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from fastapi.responses import StreamingResponse

# Rows are written to the response in batches of this many, so a large result
# never sits in memory twice as text.
BATCH_ROWS = 500


def csv_lines(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """A header line, then the rows in batches; nulls are empty fields."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for count, row in enumerate(rows, start=1):
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
        if count % BATCH_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(
    columns: Sequence[str], rows: Iterable[Mapping[str, Any]], filename: str
) -> StreamingResponse:
    """A streamed text/csv response offered as a download named filename."""
    return StreamingResponse(
        csv_lines(columns, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested JSON object as one row with dotted column names (lists kept as JSON text)."""
    if not isinstance(value, dict):
        return {prefix or "value": value}
    row: dict[str, Any] = {}
    for key, inner in value.items():
        name = f"{prefix}.{key}" if prefix else key
        row |= flatten(inner, name) if isinstance(inner, dict) else {name: inner}
    return row


def result_data(value: Any) -> Any:
    """A widget's data whether stored as the result's `data` or as the whole result."""
    if isinstance(value, dict) and isinstance(value.get("data"), dict):
        return value["data"]
    return value


def at_path(data: Any, path: str) -> Any:
    """The value at a dotted path (`product.timeseries`), None where it is absent."""
    for key in path.split("."):
        data = data.get(key) if isinstance(data, dict) else None
    return data


def tabulate(data: Any, path: str | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """A GraphQL result's rows: the list at path (else the first list, depth first),
    one row per item flattened, and per element of a nested list of objects (long
    form, e.g. a metric series' groups); a result without a list is one row."""
    target = at_path(data, path) if path else None
    found = target if isinstance(target, list) else _first_list(data)
    items = (
        [row for item in found for row in _long_form(flatten(item))]
        if found is not None
        else [flatten(data)]
    )
    columns: dict[str, None] = {}
    for item in items:
        columns |= dict.fromkeys(item)
    return list(columns), [{k: _cell(v) for k, v in item.items()} for item in items]


def _long_form(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A row holding a list of objects as one row per object (its fields dotted)."""
    nested = [
        key
        for key, value in row.items()
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
    ]
    if not nested:
        return [row]
    key = nested[0]
    base = {k: v for k, v in row.items() if k != key}
    return [base | flatten(element, key) for element in row[key]]


def _first_list(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for inner in value.values():
            found = _first_list(inner)
            if found is not None:
                return found
    return None


def _cell(value: Any) -> Any:
    """A list inside a row is written as compact JSON text."""
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"))
    return value
