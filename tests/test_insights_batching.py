"""Insights under lists cost a fixed number of statements, and Query.insights shows only
what the caller may see."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from resolvers.access import READ, Principal
from resolvers.context import GatewayContext
from schema.root import schema
from tests.factories import (
    INSIGHT_FIELDS,
    ingest_api_requests,
    ingest_product_events,
    product_event,
    request_block,
)

NOW_AGE = timedelta(hours=2)
THEN_AGE = timedelta(days=3)
PRODUCT_LIST = f"{{ products(first: 50) {{ nodes {{ id insights {{ {INSIGHT_FIELDS} }} }} }} }}"
ENDPOINT_LIST = f"{{ endpoints(first: 50) {{ nodes {{ name insights {{ {INSIGHT_FIELDS} }} }} }} }}"
EVERYTHING = f"{{ insights(first: 100) {{ {INSIGHT_FIELDS} }} }}"


def changed_product(now, product_id):
    """Errors rise from 2% to 12% on mobile, page loads double on desktop."""

    def events(age, errors, load):
        return [
            product_event(
                now - age - timedelta(seconds=i),
                productId=product_id,
                isError=i < errors,
                deviceType="mobile" if i % 2 else "desktop",
                pageLoadTimeMs=load if i % 2 == 0 else 100.0,
            )
            for i in range(100)
        ]

    return events(NOW_AGE, 12, 400.0) + events(THEN_AGE, 2, 100.0)


def changed_endpoint(now, name):
    return request_block(now, NOW_AGE, 100, 20, endpoint=name, region="ap-south") + request_block(
        now, THEN_AGE, 100, 2, endpoint=name, region="ap-south"
    )


async def load_entities(gql, db, now, count):
    async with db.write() as conn:
        await conn.execute(text("TRUNCATE product_events, products, api_requests, endpoints"))
    events = [e for n in range(count) for e in changed_product(now, f"p{n:03d}")]
    await ingest_product_events(gql, events, now)
    requests = [r for n in range(count) for r in changed_endpoint(now, f"/api/e{n:03d}")]
    await ingest_api_requests(gql, requests, now)


async def statements_for(gql, statements, query, now):
    statements.statements.clear()
    data = await gql(query, now=now)
    return len(statements.statements), data


@pytest.mark.parametrize("query", [PRODUCT_LIST, ENDPOINT_LIST, EVERYTHING])
async def test_insights_cost_the_same_statements_for_3_or_12_entities(
    gql, db, now, statements, query
):
    await load_entities(gql, db, now, 3)
    few, _ = await statements_for(gql, statements, query, now)
    await load_entities(gql, db, now, 12)
    many, many_data = await statements_for(gql, statements, query, now)
    assert few == many
    listed = many_data.get("products") or many_data.get("endpoints")
    found = [i for n in listed["nodes"] for i in n["insights"]] if listed else many_data["insights"]
    assert len(found) >= 12


async def test_one_entity_statement_per_window_and_one_per_dimension_and_window(
    gql, db, now, statements
):
    await load_entities(gql, db, now, 5)
    statements.statements.clear()
    await gql(PRODUCT_LIST, now=now)
    on_events = [s for s in statements.statements if "FROM product_events" in s]
    # 2 windows x (the whole product + COUNTRY, DEVICE_TYPE, EVENT_TYPE, SOURCE)
    assert len(on_events) == 2 * 5


async def test_unchanged_entities_skip_the_breakdowns(gql, now, statements):
    steady = request_block(now, NOW_AGE, 100, 2) + request_block(now, THEN_AGE, 100, 2)
    await ingest_api_requests(gql, steady, now)
    statements.statements.clear()
    assert (await gql(ENDPOINT_LIST, now=now))["endpoints"]["nodes"][0]["insights"] == []
    assert len([s for s in statements.statements if "FROM api_requests" in s]) == 2


async def test_query_insights_lists_only_entities_the_caller_may_see(db, gql, settings, now):
    await load_entities(gql, db, now, 3)
    principal = Principal(
        token_id="token-1", scopes=frozenset({READ}), resource_ids=frozenset({"p001", "/api/e002"})
    )
    context = GatewayContext(db, settings, now=now, principal=principal)
    result = await schema.execute(
        "{ insights(first: 100) { target targetId } }", context_value={"gateway": context}
    )
    assert result.errors is None, result.errors
    seen = {(i["target"], i["targetId"]) for i in result.data["insights"]}
    assert seen == {("PRODUCT", "p001"), ("ENDPOINT", "/api/e002")}
    everything = {
        (i["target"], i["targetId"]) for i in (await gql(EVERYTHING, now=now))["insights"]
    }
    assert len({t for t in everything if t[0] == "PRODUCT"}) == 3
