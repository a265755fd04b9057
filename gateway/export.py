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


def tabulate(data: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """A GraphQL result's rows: the first list found (depth first), each item flattened;
    a result without a list is one row."""
    found = _first_list(data)
    items = [flatten(item) for item in found] if found is not None else [flatten(data)]
    columns: dict[str, None] = {}
    for item in items:
        columns |= dict.fromkeys(item)
    return list(columns), [{k: _cell(v) for k, v in item.items()} for item in items]


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
