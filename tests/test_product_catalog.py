"""The product catalog: products (pages, search, totalCount), product(id) and stats."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.factories import ingest_product_events, product_event

PRODUCTS = """
query($search: String, $first: Int, $after: String) {
  products(search: $search, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id name } } }
"""


async def test_products_page_by_id_with_cursors_and_total_count(gql, now):
    ids = [f"p{n:02d}" for n in range(7)]
    await ingest_product_events(gql, [product_event(now, productId=i) for i in reversed(ids)], now)
    seen, after = [], None
    while True:
        page = (await gql(PRODUCTS, {"first": 3, "after": after}))["products"]
        assert page["totalCount"] == 7
        seen += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ids


async def test_products_search_matches_id_or_name_case_insensitively(gql, now):
    rows = [
        product_event(now, productId="checkout", productName="Payments Flow"),
        product_event(now, productId="web-payments"),
        product_event(now, productId="search", productName="Finder"),
        product_event(now, productId="pay_100%"),
    ]
    await ingest_product_events(gql, rows, now)
    page = (await gql(PRODUCTS, {"search": "PAYMENTS"}))["products"]
    assert [n["id"] for n in page["nodes"]] == ["checkout", "web-payments"]
    assert page["totalCount"] == 2
    literal = (await gql(PRODUCTS, {"search": "_1"}))["products"]
    assert [n["id"] for n in literal["nodes"]] == ["pay_100%"]


async def test_product_name_is_from_the_newest_event_that_has_one(gql, now):
    newest_named = product_event(now - timedelta(hours=2), productName="Shop v2")
    batch = [
        product_event(now - timedelta(hours=5), productName="Shop v1"),
        newest_named,
        product_event(now - timedelta(hours=1)),
    ]
    await ingest_product_events(gql, batch, now)
    late = [product_event(now - timedelta(hours=9), productName="Shop v0")]
    await ingest_product_events(gql, late, now)
    data = await gql('{ product(id: "shop") { id name firstSeen lastSeen } }')
    product = data["product"]
    assert (product["id"], product["name"]) == ("shop", "Shop v2")
    assert datetime.fromisoformat(product["firstSeen"]) == now - timedelta(hours=9)
    assert datetime.fromisoformat(product["lastSeen"]) == now - timedelta(hours=1)


async def test_stats_count_rows_and_entities(gql, now):
    rows = [product_event(now, productId=p) for p in ("a", "b", "a")]
    await gql(
        "mutation($e: [ProductEventInput!]!) { ingestProductEvents(events: $e) { accepted } }",
        {"e": [*rows, product_event(now, eventType="")]},
        now=now,
    )
    stats = (await gql("{ stats { productEvents products quarantined apiRequests } }"))["stats"]
    assert stats == {"productEvents": 3, "products": 2, "quarantined": 1, "apiRequests": 0}
