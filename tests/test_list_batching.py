"""Per-entity fields under a list cost the same statements for 3 or 12 entities,
and answer exactly what the same field asked one entity at a time answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.factories import (
    api_request,
    ingest_api_requests,
    ingest_predictions,
    ingest_product_events,
    prediction,
    product_event,
)

PRODUCT_FIELDS = """
    funnel(steps: ["view", "cart", "buy"], withinSeconds: 3600) {
      steps { eventType users conversionFromPrevious } overallConversion
    }
    events(first: 2) { totalCount pageInfo { hasNextPage endCursor } nodes { eventId } }
    buys: events(first: 1, filter: {eventTypes: ["buy"]}) { totalCount nodes { eventId } }
"""

ENDPOINT_FIELDS = """
    latencyHistogram(bucketMs: 40) { lowerMs upperMs requests successRate }
    businessImpact { avgSessionSeconds userEngagement }
"""

MODEL_FIELDS = """
    versions environments
    drift(recentWindowHours: 2, historicalWindowHours: 10) {
      predictionPsi rmseChange isDrifting
    }
    staging: drift(environment: "staging", recentWindowHours: 2, historicalWindowHours: 10) {
      predictionPsi
    }
    predictions(first: 2) { totalCount pageInfo { hasNextPage endCursor } nodes { predictionId } }
"""


def product_rows(now: datetime, count: int) -> list[dict[str, Any]]:
    """Product n: n % 4 + 1 users walk view -> cart -> buy partway; n + 1 events in all."""
    rows = []
    for n in range(count):
        product = f"p{n:02d}"
        for user in range(n % 4 + 1):
            steps = ["view", "cart", "buy"][: (user + n) % 3 + 1]
            for k, step in enumerate(steps):
                at = now - timedelta(minutes=30 - k - user)
                rows.append(product_event(at, productId=product, eventType=step, userId=f"u{user}"))
    return rows


def endpoint_rows(now: datetime, count: int) -> list[dict[str, Any]]:
    """Endpoint n: requests of varied latency in sessions of varied length."""
    rows = []
    for n in range(count):
        for k in range(n % 3 + 2):
            rows.append(
                api_request(
                    now - timedelta(minutes=k * (n + 1)),
                    endpoint=f"/api/e{n:02d}",
                    latencyMs=float(17 * k + 9 * n),
                    statusCode=500 if (k + n) % 4 == 0 else 200,
                    userId=f"u{k % 2}",
                    sessionId=f"s{n}-{k % 2}",
                )
            )
    return rows


def model_rows(now: datetime, count: int) -> list[dict[str, Any]]:
    """Model n: predictions in both drift windows, in production and staging, two versions."""
    rows = []
    for n in range(count):
        for k in range(12):
            rows.append(
                prediction(
                    now - timedelta(hours=k * 0.75 + 0.1),
                    float((k * 7 + n) % 11) + (3.0 if k < 3 else 0.0),
                    float(k % 5),
                    modelId=f"m{n:02d}",
                    modelVersion=f"v{k % 2 + n % 3}",
                    environment="staging" if k % 4 == n % 4 else "production",
                )
            )
    return rows


KINDS = {
    "products": ("product", "id", PRODUCT_FIELDS, product_rows, ingest_product_events),
    "endpoints": ("endpoint", "name", ENDPOINT_FIELDS, endpoint_rows, ingest_api_requests),
    "models": ("model", "id", MODEL_FIELDS, model_rows, ingest_predictions),
}


async def list_and_count(
    gql: Any, statements: Any, db: Any, now: datetime, kind: str, count: int
) -> tuple[list[dict[str, Any]], int]:
    """Store count entities of kind, then list them with the fields; nodes and statements."""
    single, key, fields, make_rows, ingest = KINDS[kind]
    async with db.write() as conn:
        await conn.execute(
            text(
                "TRUNCATE product_events, products, api_requests, endpoints, "
                "predictions, models, model_versions"
            )
        )
    await ingest(gql, make_rows(now, count), now)
    statements.statements.clear()
    data = await gql(f"{{ {kind}(first: 50) {{ nodes {{ {key} {fields} }} }} }}", now=now)
    nodes = data[kind]["nodes"]
    assert len(nodes) == count
    return nodes, len(statements.statements)


@pytest.mark.parametrize(
    ("kind", "expected"),
    # the catalog page, then one statement per distinct field and arguments:
    # products: funnel, events rows and count, buys rows and count;
    # endpoints: histogram, impact totals, session lengths;
    # models: versions, environments, two drift metrics, two PSIs, prediction rows and count
    [("products", 6), ("endpoints", 4), ("models", 11)],
)
async def test_fields_under_a_list_cost_the_same_statements_for_3_or_12_entities(
    gql, now, statements, db, kind, expected
):
    _, small = await list_and_count(gql, statements, db, now, kind, 3)
    _, big = await list_and_count(gql, statements, db, now, kind, 12)
    assert (small, big) == (expected, expected)


@pytest.mark.parametrize("kind", ["products", "endpoints", "models"])
async def test_fields_under_a_list_equal_the_same_fields_asked_one_entity_at_a_time(
    gql, now, statements, db, kind
):
    single, key, fields, _, _ = KINDS[kind]
    nodes, _ = await list_and_count(gql, statements, db, now, kind, 12)
    kind_of_key = "String!" if key == "name" else "ID!"
    for node in nodes:
        alone = await gql(
            f"query($key: {kind_of_key}) {{ {single}({key}: $key) {{ {key} {fields} }} }}",
            {"key": node[key]},
            now=now,
        )
        assert alone[single] == node
