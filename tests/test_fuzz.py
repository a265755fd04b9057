"""Property-based fuzzing of query and mutation documents generated from the served
schema (hypothesis-graphql), and of NDJSON lines: never a 500, never an error
without a code or with internals in its message. The budget is small on purpose."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries

from gateway.app import create_app
from schema.root import schema
from tests.factories import ADMIN_HEADERS

SDL = schema.as_str()
SCALARS = {
    "DateTime": st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: nodes.String(d.isoformat())),
    "JSON": st.text(max_size=20).map(nodes.String),
}
INTERNALS = ("Traceback", "psycopg", "sqlalchemy", "SELECT ", "INSERT ", "postgresql://")
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def _check(http: httpx.AsyncClient, document: str) -> None:
    response = await http.post("/graphql", json={"query": document})
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        return
    for error in response.json().get("errors", []):
        assert error.get("extensions", {}).get("code"), error
        assert not any(word in error["message"] for word in INTERNALS), error


@pytest.fixture
async def fuzzed(db, settings) -> httpx.AsyncClient:
    app = create_app(
        db, settings.model_copy(update={"rate_limit_burst": 100_000}), owns_database=False
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", headers=ADMIN_HEADERS
    ) as http:
        yield http


@FUZZ
@given(document=queries(SDL, custom_scalars=SCALARS, mode=Mode.POSITIVE))
async def test_fuzzed_queries_never_fail_unmasked(fuzzed, document):
    await _check(fuzzed, document)


@FUZZ
@given(document=mutations(SDL, custom_scalars=SCALARS, mode=Mode.POSITIVE))
async def test_fuzzed_mutations_never_fail_unmasked(fuzzed, document):
    await _check(fuzzed, document)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=queries(SDL, custom_scalars=SCALARS, mode=Mode.NEGATIVE))
async def test_fuzzed_invalid_documents_are_coded_client_errors(fuzzed, document):
    await _check(fuzzed, document)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(
        st.one_of(
            st.dictionaries(
                st.sampled_from(
                    ["event_id", "timestamp", "product_id", "event_type", "properties"]
                ),
                JSON_VALUES,
            ).map(json.dumps),
            st.text(max_size=40),
        ),
        max_size=5,
    )
)
async def test_fuzzed_ndjson_lines_never_fail_unmasked(fuzzed, lines):
    body = "\n".join(lines).encode("utf-8", "surrogatepass")
    response = await fuzzed.post("/v0/events", params={"name": "product_events"}, content=body)
    assert response.status_code < 500, response.text
    assert not any(word in response.text for word in INTERNALS)
