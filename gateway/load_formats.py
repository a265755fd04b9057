"""The file formats `load` reads, as numbered lines of contract input objects.

A line is (1-based line number, row): the row is the contract's input object
with camelCase keys, or a BadLine when the line is not a row at all.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from operator import attrgetter
from typing import IO, Any

import msgspec
import orjson

from db.ingest.fields import RowError

API_LOG_COLUMNS = (
    "request_id",
    "api_name",
    "timestamp",
    "latency_ms",
    "status_code",
    "document_type",
    "region",
    "device_type",
    "error_reason",
)


BLOCK_LINES = 5_000


class LoadError(Exception):
    """The file cannot be loaded at all (unreadable, unknown kind or format, bad header)."""


@dataclass(frozen=True)
class BadLine:
    """A line that is not a row (bad JSON, wrong column count, non-numeric cell)."""

    field: str | None
    message: str
    raw: dict[str, Any]


Line = tuple[int, dict[str, Any] | BadLine]


def ndjson_lines(handle: IO[bytes]) -> Iterator[Line]:
    """Each non-blank line with its 1-based number: a JSON object, or a BadLine."""
    first = 1
    while block := list(islice(handle, BLOCK_LINES)):
        yield from _parsed(block, first)
        first += len(block)


@dataclass(frozen=True)
class ColumnBlock:
    """Consecutive lines that are each one object of known fields, as input columns
    (by field name, all of one length): line `first + i` is row i."""

    first: int
    columns: dict[str, list[Any]]
    texts: list[bytes]

    def raw(self, position: int) -> dict[str, Any]:
        """Row `position` as the object its line holds (for the quarantine)."""
        value: dict[str, Any] = orjson.loads(self.texts[position])
        return value


Block = ColumnBlock | list[Line]


def ndjson_blocks(handle: IO[bytes], fields: Sequence[str], size: int) -> Iterator[Block]:
    """The file in blocks of `size` lines: a ColumnBlock when every line of the block
    is one object of `fields` (decoded in one msgspec call, about half the time of
    parsing objects and reading their fields into columns), else its lines as
    ndjson_lines gives them."""
    first = 1
    while texts := list(islice(handle, size)):
        columns = object_columns(b"".join(texts), fields)
        if columns is not None:
            yield ColumnBlock(first, columns, texts)
        elif lines := _parsed(texts, first):  # not a block of blank lines
            yield lines
        first += len(texts)


# Decoders per field list: a line must be an object of those keys only (any other
# key, or anything else, fails the whole body, which is then read line by line).
_DECODERS: dict[tuple[str, ...], msgspec.json.Decoder[list[Any]]] = {}


def object_columns(body: bytes, fields: Sequence[str]) -> dict[str, list[Any]] | None:
    """NDJSON lines of objects of `fields` as columns by field name (the values as JSON
    gives them, absent as null), in one msgspec call; None unless every line (the
    last may end in a newline) is one such object."""
    key = tuple(fields)
    if key not in _DECODERS:
        line = msgspec.defstruct(
            "line", [(name, Any, None) for name in key], forbid_unknown_fields=True
        )
        _DECODERS[key] = msgspec.json.Decoder(list[line])  # type: ignore[valid-type]
    text = body.rstrip()
    try:
        lines = _DECODERS[key].decode(b"[" + text.replace(b"\n", b",") + b"]")
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None  # a line too deep for msgspec is judged line by line
    if len(lines) != text.count(b"\n") + 1:  # a line held more than one value
        return None
    return {name: list(map(attrgetter(name), lines)) for name in key}


def ndjson_body(body: bytes) -> list[Line]:
    """A whole NDJSON body, read as ndjson_lines reads a file."""
    return _parsed(body.split(b"\n"), 1)


def _parsed(texts: list[bytes], first: int) -> list[Line]:
    """Numbered lines parsed in one orjson call when every line is one JSON value
    (several times faster than a call per line), else line by line."""
    numbered = [(n, text) for n, text in enumerate(texts, start=first) if text.strip()]
    try:
        values = orjson.loads(b"[" + b",".join(text for _, text in numbered) + b"]")
    except orjson.JSONDecodeError:
        values = None
    if values is None or len(values) != len(numbered):  # a bad line: find it
        return [_line(n, text) for n, text in numbered]
    return [
        (n, value) if isinstance(value, dict) else (n, _not_an_object(value, text))
        for (n, text), value in zip(numbered, values, strict=True)
    ]


def _line(number: int, text: bytes) -> Line:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        return number, BadLine(None, f"not valid JSON: {error}", _as_raw(text))
    return number, value if isinstance(value, dict) else _not_an_object(value, text)


def _not_an_object(value: Any, text: bytes) -> BadLine:
    return BadLine(None, f"expected a JSON object, got {type(value).__name__}", _as_raw(text))


def _as_raw(text: bytes) -> dict[str, Any]:
    return {"line": text.decode("utf-8", "replace").rstrip("\r\n")}


def _decoded(handle: IO[bytes]) -> Iterator[str]:
    for text in handle:
        yield text.decode("utf-8", "replace")


def api_log_lines(handle: IO[bytes]) -> Iterator[Line]:
    """API-log CSV records as ApiRequestInput rows (the header is line 1)."""
    reader = csv.reader(_decoded(handle))
    header = next(reader, None)
    names = [h.strip().lstrip("\ufeff").lower() for h in header or []]
    if sorted(names) != sorted(API_LOG_COLUMNS):
        raise LoadError(
            f"the first line must be the header {','.join(API_LOG_COLUMNS)} "
            f"(any order and letter case), got {','.join(header or []) or 'nothing'}"
        )
    start = reader.line_num + 1
    for record in reader:
        number, start = start, reader.line_num + 1
        if not record:
            continue
        cells = dict(zip(names, record, strict=False))
        if len(record) != len(names):
            got = f"expected {len(names)} columns, got {len(record)}"
            yield number, BadLine(None, got, {"columns": record})
            continue
        try:
            yield number, api_request_row(cells)
        except RowError as error:
            yield number, BadLine(error.field, error.message, cells)


def api_request_row(cells: dict[str, str]) -> dict[str, Any]:
    """An ApiRequestInput from one API-log record; empty optional cells are null.

    The timestamp is passed on as text (validated like the mutation's); the
    method is left out, so it takes the contract's default, GET.
    """
    return {
        "requestId": cells["request_id"],
        "endpoint": cells["api_name"],
        "timestamp": cells["timestamp"],
        "statusCode": _cell_number(cells["status_code"], "statusCode"),
        "latencyMs": _cell_number(cells["latency_ms"], "latencyMs"),
        "documentType": cells["document_type"] or None,
        "region": cells["region"] or None,
        "deviceType": cells["device_type"] or None,
        "errorReason": cells["error_reason"] or None,
    }


def _cell_number(text: str, field: str) -> int | float | None:
    """A numeric cell as int when whole, else float; blank is null; RowError otherwise."""
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise RowError(field, f"{field} must be a number, got {text!r}") from None
