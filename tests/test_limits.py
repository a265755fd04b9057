"""Every limit, with a document (or body, or batch) just under it and just over it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from gateway.app import create_app
from resolvers.context import GatewayContext
from schema.root import schema
from tests.factories import ADMIN_HEADERS, INGEST_PRODUCT_EVENTS, product_event


async def run(db, settings, document: str, variables: dict[str, Any] | None = None, **limits: Any):
    """Execute a document under settings with some limits changed."""
    context = GatewayContext(db, settings.model_copy(update=limits))
    return await schema.execute(
        document, variable_values=variables, context_value={"gateway": context}
    )


def code(result) -> str | None:
    return result.errors[0].extensions["code"] if result.errors else None


async def test_depth_at_the_limit_runs_and_one_deeper_is_refused(db, settings):
    four = '{ product(id: "x") { breakdown(by: COUNTRY) { metrics { totalEvents } } } }'
    assert code(await run(db, settings, four, max_depth=4)) is None
    refused = await run(db, settings, four, max_depth=3)
    assert code(refused) == "QUERY_TOO_COMPLEX"
    assert "depth is 4, over the limit of 3" in refused.errors[0].message


async def test_thirty_aliases_run_and_thirty_one_are_refused(db, settings):
    def aliased(count: int) -> str:
        return "{ " + " ".join(f'a{i}: product(id: "p{i}") {{ id }}' for i in range(count)) + " }"

    assert code(await run(db, settings, aliased(30))) is None
    refused = await run(db, settings, aliased(31))
    assert code(refused) == "QUERY_TOO_COMPLEX"
    assert "aliases is 31, over the limit of 30" in refused.errors[0].message


async def test_tokens_at_the_limit_parse_and_one_more_is_refused_while_parsing(db, settings):
    # "{", "products", "{", "totalCount" x n, "}", "}": n + 5 tokens.
    def document(tokens: int) -> str:
        return "{ products { " + "totalCount " * (tokens - 5) + "} }"

    assert code(await run(db, settings, document(60), max_tokens=60)) is None
    refused = await run(db, settings, document(61), max_tokens=60)
    assert code(refused) == "GRAPHQL_PARSE_FAILED"
    assert "more than 60 tokens" in refused.errors[0].message
    default = await run(db, settings, document(5_001))
    assert "more than 5000 tokens" in default.errors[0].message


async def test_cost_at_the_limit_runs_and_above_is_refused_with_cost_and_limit(db, settings):
    # products 1 + first 10 x (nodes 1 + overview 1) = 21; scalars come with their object.
    document = "{ products(first: 10) { nodes { overview { totalEvents } } } }"
    assert code(await run(db, settings, document, max_cost=21)) is None
    refused = await run(db, settings, document, max_cost=20)
    assert code(refused) == "QUERY_TOO_COMPLEX"
    assert refused.errors[0].extensions["cost"] == 21
    assert refused.errors[0].extensions["limit"] == 20


async def test_the_issue_document_of_many_stats_aliases_is_refused_and_a_dashboard_passes(
    db, settings
):
    thousand = "{ " + " ".join(f"s{i}: stats {{ products }}" for i in range(1000)) + " }"
    # Refused by its tokens and aliases already; with those lifted, by its cost.
    assert code(await run(db, settings, thousand)) == "GRAPHQL_PARSE_FAILED"
    lifted = await run(db, settings, thousand, max_aliases=10_000, max_tokens=100_000)
    assert code(lifted) == "QUERY_TOO_COMPLEX"
    assert "query cost is 100000, over the limit of 10000" in lifted.errors[0].message
    dashboard = """{ products(first: 50) { totalCount nodes {
        id name overview { totalEvents errorRate uniqueUsers p95PageLoadTimeMs }
        breakdown(by: COUNTRY, limit: 5) { value metrics { totalEvents errorRate } }
        timeseries(granularity: HOUR) { bucket metrics { totalEvents } }
        topErrors(limit: 3) { error count }
    } } stats { products productEvents } }"""
    assert code(await run(db, settings, dashboard)) is None


async def test_first_of_one_thousand_runs_and_one_thousand_and_one_is_bad_input(db, settings):
    assert code(await run(db, settings, "{ products(first: 1000) { totalCount } }")) is None
    refused = await run(db, settings, "{ products(first: 1001) { totalCount } }")
    assert code(refused) == "BAD_USER_INPUT"


async def test_batch_rows_at_the_limit_are_stored_and_one_more_is_refused(db, settings, now):
    rows = [product_event(now - timedelta(minutes=1)) for _ in range(4)]
    stored = await run(db, settings, INGEST_PRODUCT_EVENTS, {"events": rows[:3]}, max_batch_rows=3)
    assert stored.data["ingestProductEvents"]["accepted"] == 3
    refused = await run(db, settings, INGEST_PRODUCT_EVENTS, {"events": rows}, max_batch_rows=3)
    assert code(refused) == "BAD_USER_INPUT"


@pytest.fixture
def http_with(db, settings):
    """An HTTP client of an app with some settings changed."""

    def make(**changes: Any) -> httpx.AsyncClient:
        app = create_app(db, settings.model_copy(update=changes), owns_database=False)
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://127.0.0.1",
            headers=ADMIN_HEADERS,
        )

    return make


async def test_a_body_at_the_limit_is_read_and_one_byte_more_is_413_before_parsing(http_with):
    query = b'{"query": "{ stats { products } }"}'
    async with http_with(max_body_bytes=len(query)) as http:
        at_limit = await http.post(
            "/graphql", content=query, headers={"content-type": "application/json"}
        )
        # Not even JSON: refused for its size, never parsed.
        over = await http.post(
            "/graphql",
            content=b"x" * (len(query) + 1),
            headers={"content-type": "application/json"},
        )

        async def chunks():
            for _ in range(4):
                yield b"x" * len(query)

        streamed = await http.post(
            "/graphql", content=chunks(), headers={"content-type": "application/json"}
        )
    assert at_limit.status_code == 200
    assert over.status_code == 413
    assert streamed.status_code == 413


async def test_the_rate_limit_answers_429_with_retry_after_once_the_burst_is_spent(http_with):
    query = {"query": "{ __typename }"}
    async with http_with(rate_limit_per_second=0.5, rate_limit_burst=3) as http:
        statuses = [(await http.post("/graphql", json=query)).status_code for _ in range(4)]
        refused = await http.post("/graphql", json=query)
    assert statuses == [200, 200, 200, 429]
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["errors"][0]["extensions"] == {"code": "RATE_LIMITED", "retryable": True}


async def test_over_websockets_the_rate_limit_is_a_coded_graphql_error(db, settings):
    context = GatewayContext(db, settings)
    context.charge = lambda: 1.5
    result = await schema.execute("{ __typename }", context_value={"gateway": context})
    assert result.errors[0].extensions == {
        "code": "RATE_LIMITED",
        "retryable": True,
        "retryAfter": 1.5,
    }


@pytest.mark.parametrize(("cap", "fewest"), [(1, 1), (2, 2), (10, 3)])
async def test_one_request_holds_at_most_its_connection_cap(db, settings, now, cap, fewest):
    # fewest: with room, sibling loaders do run at once (so the cap is what bounds them).
    rows = [product_event(now - timedelta(minutes=1), productId=f"p{i}") for i in range(3)]
    await run(db, settings, INGEST_PRODUCT_EVENTS, {"events": rows})
    held = {"now": 0, "most": 0}

    def checkout(*_: Any) -> None:
        held["now"] += 1
        held["most"] = max(held["most"], held["now"])

    def checkin(*_: Any) -> None:
        held["now"] -= 1

    pool = db.engine.sync_engine.pool
    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", checkin)
    try:
        document = """{ products { totalCount nodes { overview { totalEvents }
            breakdown(by: COUNTRY) { value } topErrors { error } engagement { events }
            timeseries(granularity: HOUR) { bucket } } } stats { products } }"""
        result = await run(db, settings, document, max_request_connections=cap)
    finally:
        event.remove(pool, "checkout", checkout)
        event.remove(pool, "checkin", checkin)
    assert result.errors is None
    assert fewest <= held["most"] <= cap
