"""Bad input gets a clear GraphQL error with extensions.code, never a masked or raw failure."""

from __future__ import annotations

import base64
from datetime import timedelta

import orjson
import pytest

from tests.factories import ingest_product_events, iso, product_event


def crafted(*payload):
    return base64.urlsafe_b64encode(orjson.dumps(list(payload))).decode()


def assert_clear(errors, code, *words):
    """One error, with a code and a message naming what is wrong, and nothing internal."""
    [error] = errors
    assert error.extensions is not None
    assert error.extensions["code"] == code
    assert "Unexpected error" not in error.message
    assert "Traceback" not in error.message
    assert "stacktrace" not in error.extensions
    for word in words:
        assert word in error.message
    return error


@pytest.mark.parametrize(
    "field",
    [
        "overview(range: $range) { totalEvents }",
        "breakdown(by: COUNTRY, range: $range) { value }",
        "timeseries(granularity: HOUR, range: $range) { bucket }",
        "topErrors(range: $range) { error }",
        "engagement(range: $range) { eventType }",
        'funnel(steps: ["a"], range: $range) { overallConversion }',
        "events(range: $range) { totalCount }",
    ],
)
async def test_range_from_after_to_is_refused(gql, now, field):
    await ingest_product_events(gql, [product_event(now - timedelta(minutes=1))], now)
    range_ = {"from": iso(now), "to": iso(now - timedelta(hours=1))}
    doc = f'query($range: TimeRange) {{ product(id: "shop") {{ {field} }} }}'
    error = assert_clear(await gql.errors(doc, {"range": range_}), "BAD_USER_INPUT", "range.from")
    assert error.extensions["argument"] == "range"


async def test_range_from_after_to_is_refused_on_the_quarantine(gql, now):
    range_ = {"from": iso(now), "to": iso(now - timedelta(seconds=1))}
    doc = "query($range: TimeRange) { quarantine(range: $range) { totalCount } }"
    assert_clear(await gql.errors(doc, {"range": range_}), "BAD_USER_INPUT", "range.from")


PAGED = {
    "products": "{ products(first: %s) { totalCount } }",
    "events": '{ product(id: "shop") { events(first: %s) { totalCount } } }',
    "quarantine": "{ quarantine(first: %s) { totalCount } }",
}


@pytest.mark.parametrize("first", [-1, 1001])
@pytest.mark.parametrize("field", sorted(PAGED))
async def test_page_size_outside_0_to_1000_is_refused(gql, now, field, first):
    await ingest_product_events(gql, [product_event(now - timedelta(minutes=1))], now)
    errors = await gql.errors(PAGED[field] % first)
    error = assert_clear(errors, "BAD_USER_INPUT", "first", str(first), "1000")
    assert error.extensions["argument"] == "first"


@pytest.mark.parametrize("first", [0, 1000])
async def test_page_size_at_the_bounds_is_allowed(gql, first):
    assert (await gql(PAGED["products"] % first))["products"]["totalCount"] == 0


CURSORS = {
    "garbage": "not a cursor!",
    "not-json": base64.urlsafe_b64encode(b"\xff\x00{").decode(),
    "other-list": crafted("event", "2026-01-01T00:00:00+00:00", "e-1"),
    "wrong-arity": crafted("product"),
    "bad-time": crafted("event", "yesterday", "e-1"),
    "wrong-type": crafted("product", 42),
    "wrong-id-type": crafted("event", "2026-01-01T00:00:00+00:00", 7),
    "object": base64.urlsafe_b64encode(b'{"a": 1}').decode(),
}
CURSOR_FIELDS = {
    "products": '{ products(after: "%s") { totalCount } }',
    "events": '{ product(id: "shop") { events(after: "%s") { totalCount } } }',
    "quarantine": '{ quarantine(after: "%s") { totalCount } }',
}


@pytest.mark.parametrize("cursor", sorted(CURSORS))
@pytest.mark.parametrize("field", sorted(CURSOR_FIELDS))
async def test_malformed_cursor_is_refused(gql, now, field, cursor):
    await ingest_product_events(gql, [product_event(now - timedelta(minutes=1))], now)
    value = CURSORS[cursor]
    if field == "events" and cursor == "other-list":
        value = crafted("product", "shop")
    errors = await gql.errors(CURSOR_FIELDS[field] % value)
    error = assert_clear(errors, "BAD_USER_INPUT", "after", "cursor")
    assert error.extensions["argument"] == "after"


async def test_unknown_granularity_is_a_validation_error_with_a_code(gql):
    doc = '{ product(id: "shop") { timeseries(granularity: WEEK) { bucket } } }'
    [error] = await gql.errors(doc)
    assert "WEEK" in error.message
    assert error.extensions["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_funnel_without_steps_is_refused(gql, now):
    await ingest_product_events(gql, [product_event(now - timedelta(minutes=1))], now)
    doc = '{ product(id: "shop") { funnel(steps: []) { overallConversion } } }'
    error = assert_clear(await gql.errors(doc), "BAD_USER_INPUT", "steps")
    assert error.extensions["argument"] == "steps"


@pytest.mark.parametrize(
    ("field", "argument"),
    [
        ('funnel(steps: ["a"], withinSeconds: -1) { overallConversion }', "withinSeconds"),
        ("breakdown(by: SOURCE, limit: -1) { value }", "limit"),
        ("topErrors(limit: 100000) { error }", "limit"),
    ],
)
async def test_numeric_arguments_out_of_bounds_are_refused(gql, now, field, argument):
    await ingest_product_events(gql, [product_event(now - timedelta(minutes=1))], now)
    doc = f'{{ product(id: "shop") {{ {field} }} }}'
    error = assert_clear(await gql.errors(doc), "BAD_USER_INPUT", argument)
    assert error.extensions["argument"] == argument


async def test_unknown_product_is_null_not_an_error(gql):
    data = await gql('{ product(id: "ghost") { id name overview { totalEvents } } }')
    assert data == {"product": None}
