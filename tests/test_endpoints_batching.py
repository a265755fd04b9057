"""Endpoint metrics under a list of endpoints cost a constant number of statements."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.factories import api_request, ingest_api_requests

LIST_QUERY = """
{ endpoints(first: 50) { nodes {
    name
    stats { requests errorRate p95LatencyMs topErrorReason }
    breakdown(by: REGION) { value metrics { requests } }
    byStatus: breakdown(by: STATUS_CODE, limit: 1) { value metrics { successRate } }
    errors { error count }
    timeseries(granularity: HOUR) { bucket metrics { errorCount } }
} } }
"""


async def run_for(gql, statements, db, now, endpoint_count):
    async with db.write() as conn:
        await conn.execute(text("TRUNCATE api_requests, endpoints"))
    rows = [
        api_request(
            now - timedelta(minutes=n + 1),
            endpoint=f"/api/e{n:03d}",
            region=["eu", "us", None][n % 3],
            statusCode=500 if n % 2 else 200,
            errorReason="BOOM",
        )
        for n in range(endpoint_count)
    ]
    await ingest_api_requests(gql, rows, now)
    statements.statements.clear()
    data = await gql(LIST_QUERY, now=now)
    return data["endpoints"]["nodes"], len(statements.statements)


@pytest.mark.parametrize("count", [3, 30])
async def test_metrics_under_endpoints_cost_one_statement_per_distinct_field(
    gql, now, statements, db, count
):
    nodes, statement_count = await run_for(gql, statements, db, now, count)
    # one page of endpoints, then one statement for each of the five aggregate fields
    # (and the timeseries' SET LOCAL before its statement: db.aggregates._SERIAL)
    assert statement_count == 7
    assert [n["stats"]["errorRate"] for n in nodes] == [n % 2 for n in range(count)]
    assert [n["stats"]["topErrorReason"] for n in nodes] == [
        "BOOM" if n % 2 else None for n in range(count)
    ]
    assert [n["breakdown"][0]["value"] for n in nodes] == [
        ["eu", "us", ""][n % 3] for n in range(count)
    ]
    assert [len(n["errors"]) for n in nodes] == [n % 2 for n in range(count)]


async def test_only_selected_measures_reach_sql(gql, now, statements):
    await ingest_api_requests(gql, [api_request(now - timedelta(minutes=1))], now)
    statements.statements.clear()
    await gql('{ endpoint(name: "/api/orders") { stats { requests } } }', now=now)
    [sql] = [s for s in statements.statements if "api_requests" in s]
    assert "percentile_cont" not in sql
    assert "mode()" not in sql
