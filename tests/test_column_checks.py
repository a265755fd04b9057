"""Batches checked a column at a time say what checking each row alone says.

A field's whole-column rule may only accept a column whose every value its
per-value rule accepts, with the same clean values; an events body decoded in
one call (snake_case fields) is checked exactly as the same rows parsed line
by line (camelCase fields take that path), and as each row checked alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db.ingest.batch import check_batch
from db.ingest.fields import RowError
from db.ingest.shape import RowContext, Shape
from gateway import event_rows
from gateway.event_rows import DATA_SOURCES, check_body, input_object
from tests.factories import snake

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
CONTEXT = RowContext(NOW, timedelta(minutes=5))
KINDS = [source.kind for source in DATA_SOURCES.values()]
FIELDS = [(kind, field) for kind in KINDS for field in kind.shape.fields]

# Every value is inside what both JSON parsers read alike (whole numbers within 64 bits).
texts = st.sampled_from(["", " ", "a", "b", "a\x00b", "\t", "GET", "COUNTER", "GAUGE", "shop"])
moments = st.datetimes(
    min_value=datetime(2026, 11, 25), max_value=datetime(2026, 11, 27), timezones=st.none()
)
offsets = st.sampled_from([None, UTC, "Z", "+02:00", "-07:30"])


@st.composite
def stamps(draw: st.DrawFn) -> object:
    """A date-time as an object (naive or aware) or as text in the forms senders use."""
    moment = draw(moments)
    offset = draw(offsets)
    if offset is UTC:
        return moment.replace(tzinfo=UTC) if draw(st.booleans()) else moment.isoformat() + "Z"
    if isinstance(offset, str):
        return moment.isoformat(sep=draw(st.sampled_from(["T", " "]))) + offset
    return moment if draw(st.booleans()) else moment.strftime("%Y-%m-%d %H:%M:%S")


numbers = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 0.0, -0.0, 200, 404, 599, 600, 99, 1.5, 200.0]),
)
# JSON has no NaN or infinity: what a body can carry.
finite = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0.0, 200, 404, 600, 1.5, 200.0]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts, st.text(max_size=4))
json_scalars = st.one_of(st.none(), st.booleans(), finite, texts, st.text(max_size=4))


def _documents(leaves: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    )


documents = _documents(scalars)
json_documents = _documents(json_scalars)
families = [
    texts,
    st.one_of(st.none(), texts),
    numbers,
    st.one_of(st.none(), numbers),
    st.booleans(),
    st.one_of(st.none(), st.booleans()),
    stamps(),
    st.sampled_from(["2026-11-26", "not a date", "2026-11-26T12:00:00+00:00"]),
    documents,
    scalars,
]
# Columns of one family (what real batches send, and what the fast rules take) or mixed.
columns = st.one_of(
    *[st.lists(family, min_size=1, max_size=6) for family in families],
    st.lists(st.one_of(*families), min_size=1, max_size=6),
)


def _alone(field, value):
    try:
        return ("ok", field.value({field.name: value}, field.name, CONTEXT))
    except RowError as error:
        return ("refused", error.field, error.message)


@pytest.mark.parametrize(("kind", "field"), FIELDS, ids=[f"{k.kind}.{f.name}" for k, f in FIELDS])
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=columns)
def test_a_column_rule_accepts_only_what_each_value_passes_alone(kind, field, values):
    fast = field.fast(list(values), CONTEXT)
    if fast is None:  # some value needs the per-value rule (checked below for the batch)
        return
    alone = [_alone(field, value) for value in values]
    assert alone == [("ok", value) for value in fast]
    assert [type(v) for v in fast] == [type(result[1]) for result in alone]
    stamps_out = [v for v in fast if isinstance(v, datetime)]
    assert all(v.utcoffset() == timedelta(0) for v in stamps_out)


def test_a_clean_body_is_checked_without_visiting_a_value(monkeypatch):
    """The whole-column rules take a sender's ordinary body (else the speed is lost)."""

    def visited(*args):
        raise AssertionError("a column fell back to its per-value rule")

    monkeypatch.setattr(Shape, "_walk", staticmethod(visited))
    at = NOW - timedelta(hours=1)
    lines = [
        {
            "event_id": f"e-{n}",
            "timestamp": (at - timedelta(seconds=n)).strftime("%Y-%m-%d %H:%M:%S"),
            "product_id": "shop",
            "event_type": "page_view",
            "user_id": f"u-{n % 7}",
            "page_load_time_ms": 100 + n,
            "api_latency_ms": 12.5,
            "error_code": "E_500" if n % 5 == 0 else None,
            "is_error": n % 5 == 0,
            "device_type": "mobile",
            "country": "DE",
            "properties": {"plan": "pro", "n": n} if n % 2 else None,
        }
        for n in range(50)
    ]
    body = "\n".join(json.dumps(line) for line in lines).encode()
    checked = check_body(body, DATA_SOURCES["product_events"], NOW, CONTEXT.future_tolerance, _all)
    assert checked.size == 50
    assert not checked.rejected
    assert checked.columns["is_error"] == [n % 5 == 0 for n in range(50)]
    assert checked.columns["page_load_time_ms"] == [float(100 + n) for n in range(50)]


def _all(resource: str) -> bool:
    return True


def _sees(resource: str) -> bool:
    return resource != "b"


ids = st.sampled_from(["e1", "e2", "e3", " ", None, 5])
product_rows = st.fixed_dictionaries(
    {
        "eventId": ids,
        "timestamp": stamps(),
        "productId": st.sampled_from(["a", "b", "", None, 7, {"x": 1}]),
    },
    optional={
        "eventType": st.sampled_from(["view", "", None, 3]),
        "pageLoadTimeMs": st.one_of(st.none(), finite, texts),
        "durationMs": finite,
        "errorCode": st.sampled_from(["", "E_500", None]),
        "isError": st.sampled_from([True, False, 0, 1, 2, None, "yes"]),
        "properties": json_documents,
        "country": st.one_of(texts, st.none(), finite),
    },
)
request_rows = st.fixed_dictionaries(
    {"requestId": ids, "timestamp": stamps(), "endpoint": st.sampled_from(["a", "b", " "])},
    optional={
        "statusCode": finite,
        "latencyMs": finite,
        "method": st.sampled_from(["GET", "", " ", None, "POST"]),
        "errorReason": st.sampled_from(["", "TIMEOUT", None]),
    },
)
prediction_rows = st.fixed_dictionaries(
    {"predictionId": ids, "timestamp": stamps(), "modelId": st.sampled_from(["a", "b"])},
    optional={
        "modelVersion": st.sampled_from(["v1", "", None]),
        "predictedValue": finite,
        "actualValue": st.one_of(st.none(), finite),
        "environment": st.sampled_from(["staging", "", None]),
        "features": json_documents,
    },
)
metric_rows = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "b", ""]), "value": finite},
    optional={
        "type": st.sampled_from(["COUNTER", "GAUGE", "nope", None, 3, ["GAUGE"], {"a": 1}]),
        "timestamp": st.one_of(st.none(), stamps()),
        "tags": st.one_of(st.none(), st.dictionaries(texts, json_scalars, max_size=2), texts),
    },
)
BODIES = {
    "product_events": product_rows,
    "api_requests": request_rows,
    "ml_model_predictions": prediction_rows,
    "metrics": metric_rows,
}


def _json(row: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


@pytest.mark.parametrize("name", list(BODIES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_decoded_body_is_checked_as_its_lines_one_by_one(name, data):
    source = DATA_SOURCES[name]
    rows = [_json(r) for r in data.draw(st.lists(BODIES[name], min_size=1, max_size=8))]
    body = _body([snake(r) for r in rows])
    assert event_rows._columns(body, source) is not None  # decoded in one call
    decoded = check_body(body, source, NOW, timedelta(minutes=5), _sees)
    with patch.object(event_rows, "_columns", _undecodable):  # the line-by-line path
        parsed = check_body(body, source, NOW, timedelta(minutes=5), _sees)
    assert decoded.columns == parsed.columns
    assert decoded.in_batch_duplicates == parsed.in_batch_duplicates
    assert decoded.rejected == parsed.rejected
    assert decoded.rejected_raw == parsed.rejected_raw
    # Each row checked alone is rejected for the same reason, or stored alike.
    for line, row in enumerate(rows, start=1):
        alone = check_batch(source.kind, [input_object(row)], CONTEXT)
        reasons = [(r.field, r.message) for r in decoded.rejected if r.index == line]
        if row.get(source.resource_field) == "b":
            assert reasons == [
                (source.resource_field, f"this token may not write to {source.resource_field} 'b'")
            ]
        else:
            assert reasons == [(r.field, r.message) for r in alone.rejected]


def _undecodable(body: bytes, source: object) -> None:
    return None


def _body(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps(row) for row in rows).encode()
