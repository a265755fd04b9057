"""Event bodies as rows: the one-call NDJSON parse, and per-row resource confinement."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest

from gateway import load_formats
from gateway.event_rows import DATA_SOURCES, check_body
from gateway.load_formats import ndjson_body, ndjson_lines
from resolvers.access import Principal
from tests.factories import ndjson, product_event, snake


def test_rows_for_resources_the_token_may_not_see_are_rejected_per_row(now):
    confined = Principal(token_id="t1", scopes=frozenset({"APPEND"}), resource_ids=frozenset({"a"}))
    body = ndjson(
        [snake(product_event(now - timedelta(minutes=1), productId=p)) for p in ("a", "b", "a")]
    ).encode()
    checked = check_body(
        body, DATA_SOURCES["product_events"], now, timedelta(minutes=5), confined.sees
    )
    assert checked.size == 2
    assert [(r.index, r.field) for r in checked.rejected] == [(2, "productId")]


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1}\n\n{"b": 2}\r\n',
        b'{"a": 1}\n[1, 2]\n"text"\n',
        b'{"a": 1}\n1, 2\n{"b": 2}',
        b'{"a": 1}\n{not json\n',
        b'{"a": 1},{"b": 2}\n',
        b"",
    ],
)
def test_a_body_parsed_at_once_reads_as_line_by_line(body, monkeypatch):
    expected = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if line.strip():
            try:
                value = json.loads(line)
            except ValueError:
                expected.append((number, "not JSON"))
                continue
            expected.append((number, value if isinstance(value, dict) else "not an object"))

    def kinds(lines):
        return [(n, r if isinstance(r, dict) else _bad_line_kind(r)) for n, r in lines]

    assert kinds(ndjson_body(body)) == expected
    monkeypatch.setattr(load_formats, "BLOCK_LINES", 2)  # lines cross block boundaries
    assert kinds(ndjson_lines(io.BytesIO(body))) == expected


def _bad_line_kind(line):
    return "not JSON" if line.message.startswith("not valid JSON") else "not an object"
