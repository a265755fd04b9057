"""A batch is one transaction: a database fault stores nothing of it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from tests.factories import INGEST_PRODUCT_EVENTS, product_event

STATS = "{ stats { productEvents products quarantined } }"


async def test_database_fault_stores_nothing_and_says_retry_is_safe(gql, db, now):
    good = product_event(now - timedelta(minutes=1))
    bad = product_event(now - timedelta(minutes=1), eventType="")
    # Break the quarantine so the second half of the unit of work fails for real.
    async with db.write() as conn:
        await conn.execute(text("ALTER TABLE quarantine RENAME TO quarantine_offline"))
    try:
        errors = await gql.errors(INGEST_PRODUCT_EVENTS, {"events": [good, bad]})
    finally:
        async with db.write() as conn:
            await conn.execute(text("ALTER TABLE quarantine_offline RENAME TO quarantine"))
    assert errors[0].extensions["code"] == "INGEST_FAILED"
    assert errors[0].extensions["retryable"] is True
    assert "nothing of it was stored" in errors[0].message
    assert (await gql(STATS))["stats"] == {"productEvents": 0, "products": 0, "quarantined": 0}

    retried = await gql(INGEST_PRODUCT_EVENTS, {"events": [good, bad]})
    assert retried["ingestProductEvents"]["accepted"] == 1
    assert (await gql(STATS))["stats"] == {"productEvents": 1, "products": 1, "quarantined": 1}


async def test_text_with_a_nul_character_is_rejected_per_row_not_a_fault(gql, now):
    rows = [
        product_event(now - timedelta(minutes=1)),
        product_event(now - timedelta(minutes=1), userId="bad\x00user"),
    ]
    result = (await gql(INGEST_PRODUCT_EVENTS, {"events": rows}))["ingestProductEvents"]
    assert result["accepted"] == 1
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [(1, "userId")]


async def test_an_unreachable_database_is_unavailable_and_retryable_without_internals(settings):
    import httpx

    from db.engine import Database
    from gateway.app import create_app
    from tests.factories import ADMIN_HEADERS

    unreachable = Database("postgresql+psycopg://postgres@127.0.0.1:9/none", pool_size=1)
    transport = httpx.ASGITransport(app=create_app(unreachable, settings))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gateway", headers=ADMIN_HEADERS
    ) as http:
        response = await http.post("/graphql", json={"query": STATS})
    await unreachable.dispose()
    body = response.json()
    assert body["errors"][0]["extensions"] == {"code": "SERVICE_UNAVAILABLE", "retryable": True}
    assert "127.0.0.1" not in response.text
    assert "Traceback" not in response.text
