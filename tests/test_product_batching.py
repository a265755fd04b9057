"""Only selected measures reach SQL; metrics under lists cost a constant number of statements."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from db.aggregates import shares
from db.compiler import AggregateQuery
from db.facts.product_events import PRODUCT_EVENTS
from tests.factories import (
    approx_metrics,
    at,
    expected_product_metrics,
    ingest_product_events,
    iso,
    product_event,
    product_events_mix,
    product_query,
)

# A percentile reaches SQL as percentile_cont over raw rows or a rollup's sketch.
PERCENTILE_SQL = ("percentile_cont", "sketch_")


def aggregate_sql(statements):
    return [s for s in statements.statements if "product_events" in s]


@pytest.mark.parametrize(
    "field",
    [
        "overview { %s }",
        "breakdown(by: COUNTRY) { value metrics { %s } }",
        "timeseries(granularity: HOUR) { bucket metrics { %s } }",
    ],
)
async def test_only_selected_measures_are_computed(gql, now, statements, field):
    await ingest_product_events(gql, [product_event(now - timedelta(minutes=1))], now)
    statements.statements.clear()
    await gql(product_query(field % "totalEvents"), {"id": "shop"}, now=now)
    [cheap] = aggregate_sql(statements)
    assert not any(name in cheap for name in PERCENTILE_SQL)
    assert "avg(" not in cheap
    statements.statements.clear()
    await gql(product_query(field % "totalEvents p95ApiLatencyMs"), {"id": "shop"}, now=now)
    [costly] = aggregate_sql(statements)
    assert any(name in costly for name in PERCENTILE_SQL)
    assert "avg(" not in costly


async def test_measures_selected_through_fragments_are_computed(gql, now, statements):
    await ingest_product_events(
        gql, [product_event(now - timedelta(seconds=1), durationMs=4.0)], now
    )
    doc = """
    query { product(id: "shop") { overview { ...Durations } } }
    fragment Durations on ProductMetrics { ... on ProductMetrics { avgDurationMs } }
    """
    statements.statements.clear()
    data = await gql(doc, now=now)
    assert data["product"]["overview"] == {"avgDurationMs": 4.0}
    [sql] = aggregate_sql(statements)
    assert "count(*)" not in sql


LIST_QUERY = """
{ products(first: 50) { nodes {
    overview { totalEvents errorRate }
    breakdown(by: COUNTRY) { value metrics { totalEvents } }
} } }
"""

WIDE_LIST_QUERY = """
{ products(first: 50) { totalCount nodes {
    id name
    overview { totalEvents errorRate p95PageLoadTimeMs }
    breakdown(by: COUNTRY) { value metrics { totalEvents } }
    bySource: breakdown(by: SOURCE, limit: 1) { value metrics { uniqueUsers } }
    topErrors { error count }
    timeseries(granularity: HOUR) { bucket metrics { errorCount } }
    engagement { eventType events }
} } }
"""


async def statements_for(gql, statements, db, now, query, product_count):
    async with db.write() as conn:
        await conn.execute(text("TRUNCATE product_events, products"))
    rows = [
        product_event(
            now - timedelta(minutes=n + 1),
            productId=f"p{n:03d}",
            country=["de", "fr", None][n % 3],
            errorCode="E1" if n % 2 else None,
        )
        for n in range(product_count)
    ]
    await ingest_product_events(gql, rows, now)
    statements.statements.clear()
    data = await gql(query, now=now)
    assert len(data["products"]["nodes"]) == product_count
    return data, len(statements.statements)


@pytest.mark.parametrize(
    ("query", "expected"),
    # one page of products, then one statement per distinct field and arguments (and
    # the timeseries' SET LOCAL before its statement: db.aggregates._SERIAL)
    [(LIST_QUERY, 3), (WIDE_LIST_QUERY, 9)],
    ids=["issue", "every-metric"],
)
async def test_metrics_under_products_cost_the_same_for_3_or_30_products(
    gql, now, statements, db, query, expected
):
    small_data, small = await statements_for(gql, statements, db, now, query, 3)
    big_data, big = await statements_for(gql, statements, db, now, query, 30)
    assert (small, big) == (expected, expected)
    nodes = big_data["products"]["nodes"]
    assert [n["overview"]["errorRate"] for n in nodes] == [n % 2 for n in range(30)]
    assert [n["breakdown"][0]["value"] for n in nodes] == [
        ["de", "fr", ""][n % 3] for n in range(30)
    ]


SHARED_QUERY = """
query($range: TimeRange) { products(first: 50) { nodes {
    id overview(range: $range) { totalEvents uniqueUsers p95PageLoadTimeMs }
} } }
"""


@pytest.mark.parametrize(("product_count", "expected_statements"), [(7, 1), (12, 2)])
async def test_distinct_users_of_many_products_are_counted_in_two_shares(
    gql, now, statements, db, product_count, expected_statements
):
    # From 8 products on, an overview that counts distinct users is asked in two
    # statements side by side (db.aggregates.shares); the answers are each product's own.
    async with db.write() as conn:
        await conn.execute(text("TRUNCATE product_events, products"))
    rows = product_events_mix(now, count=40 * product_count, seed=product_count)
    for n, row in enumerate(rows):
        row["productId"] = f"p{n % product_count:03d}"
    await ingest_product_events(gql, rows, now)
    # Unaligned at both ends: whole hours from the rollups, the minutes from raw rows.
    start, end = now - timedelta(hours=15, minutes=7), now - timedelta(minutes=3)
    statements.statements.clear()
    data = await gql(SHARED_QUERY, {"range": {"from": iso(start), "to": iso(end)}}, now=now)
    rolled = [s for s in statements.statements if "product_events_hourly" in s]
    assert len(rolled) == expected_statements
    found = {node["id"]: node["overview"] for node in data["products"]["nodes"]}
    expected = {}
    for product in sorted({row["productId"] for row in rows}):
        mine = [r for r in rows if r["productId"] == product and start <= at(r) < end]
        metrics = expected_product_metrics(mine)
        expected[product] = approx_metrics(
            {name: metrics[name] for name in ("totalEvents", "uniqueUsers", "p95PageLoadTimeMs")}
        )
    assert found == expected


def test_shares_keep_every_entity_once_in_order():
    ids = [f"p{n}" for n in range(13)]
    query = AggregateQuery(
        measures=frozenset({"unique_users"}),
        start=datetime(2026, 1, 1, 0, 30, tzinfo=UTC),
        end=datetime(2026, 1, 3, tzinfo=UTC),
    )
    parts = shares(PRODUCT_EVENTS, query, ids)
    assert [len(p) for p in parts] == [7, 6]
    assert [i for p in parts for i in p] == ids
    # Nothing to count: one statement, whatever the number of entities.
    counted = replace(query, measures=frozenset({"total_events"}))
    assert shares(PRODUCT_EVENTS, counted, ids) == [ids]
