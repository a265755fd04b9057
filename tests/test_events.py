"""POST /v0/events: Tinybird-style NDJSON ingest through the mutations' validation and writer."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from sqlalchemy import select, text
from strawberry.utils.str_converters import to_snake_case

from db.ingest.fields import MAX_DEPTH
from db.tables import (
    api_requests,
    metric_samples,
    predictions,
    product_events,
    products,
    quarantine,
)
from gateway.app import create_app
from tests.factories import (
    ADMIN_HEADERS,
    INGEST_PRODUCT_EVENTS,
    ndjson,
    product_event,
    product_events_mix,
    snake,
    tinybird,
)


async def _post(client, name: str, body: str, **params: str) -> httpx.Response:
    return await client.post("/v0/events", params={"name": name, **params}, content=body)


async def test_events_count_every_line_once_with_line_numbers(client, db, now):
    stored = product_event(now - timedelta(hours=1))
    await _post(client, "product_events", ndjson([snake(stored)]))
    good = [snake(product_event(now - timedelta(minutes=n))) for n in range(1, 4)]
    lines = [
        good[0],
        "",  # blank lines are skipped but still counted as lines
        good[1],
        "{not json",
        dict(good[0]),  # the same id again in the body
        snake(stored),  # already stored
        snake(product_event(now - timedelta(minutes=5), pageLoadTimeMs=-3)),
        "[1, 2]",
        good[2],
    ]
    response = await _post(client, "product_events", ndjson(lines))
    assert response.status_code == 202
    body = response.json()
    assert (body["successful_rows"], body["duplicates"], body["quarantined_rows"]) == (3, 2, 3)
    assert [(r["line"], r["field"]) for r in body["rejected"]] == [
        (4, None),
        (7, "page_load_time_ms"),
        (8, None),
    ]
    assert "not valid JSON" in body["rejected"][0]["reason"]
    assert "page_load_time_ms must not be negative" in body["rejected"][1]["reason"]
    async with db.read() as conn:
        ids = (await conn.execute(select(product_events.c.event_id))).scalars().all()
        kept = (await conn.execute(select(quarantine.c.row_index))).scalars().all()
    assert sorted(ids) == sorted([stored["eventId"], *(g["event_id"] for g in good)])
    assert sorted(kept) == [4, 7, 8]


async def test_tinybird_sample_rows_of_every_data_source_are_stored(client, db, now):
    at = (now - timedelta(minutes=10)).replace(microsecond=0)
    bodies = {
        "product_events": {
            "event_id": "e12345",
            "timestamp": tinybird(at),
            "product_id": "prod-123",
            "product_name": "Analytics Dashboard",
            "event_type": "page_view",
            "user_id": "user-abc123",
            "duration_ms": 3500,
            "error_code": "",
            "page_load_time_ms": 1200,
            "api_latency_ms": 350,
            "is_error": 0,
            "source": "web-app",
            "device_type": "desktop",
            "country": "US",
        },  # fmt: skip
        "api_requests": {
            "request_id": "r1",
            "timestamp": tinybird(at),
            "endpoint": "/api/pay",
            "status_code": 502,
            "latency_ms": 81.5,
            "error_reason": "UPSTREAM",
        },  # fmt: skip
        "ml_model_predictions": {
            "timestamp": tinybird(at),
            "model_id": "price_prediction_model",
            "prediction_id": "pred_123456",
            "features": '{"feature1": 0.5}',
            "predicted_value": 42.5,
            "actual_value": 45.1,
            "model_version": "v1.2.3",
            "environment": "production",
        },  # fmt: skip
        "metrics": {"name": "queue.depth", "type": "GAUGE", "value": 7, "timestamp": tinybird(at)},
    }
    for name, row in bodies.items():
        response = await _post(client, name, json.dumps(row))
        assert response.json() == {
            "successful_rows": 1, "quarantined_rows": 0, "duplicates": 0, "rejected": []
        }, name  # fmt: skip
    async with db.read() as conn:
        event = (await conn.execute(select(product_events))).mappings().one()
        request = (await conn.execute(select(api_requests))).mappings().one()
        prediction = (await conn.execute(select(predictions))).mappings().one()
        sample = (await conn.execute(select(metric_samples))).mappings().one()
    assert (event["ts"], event["is_error"], event["error_code"]) == (at, False, None)
    assert (event["page_load_time_ms"], event["country"]) == (1200.0, "US")
    assert (request["ts"], request["status_code"], request["error_reason"]) == (at, 502, "UPSTREAM")
    assert (prediction["model_version"], prediction["actual_value"]) == ("v1.2.3", 45.1)
    assert (sample["ts"], sample["value"]) == (at, 7.0)


async def test_is_error_as_one_or_true_marks_the_event_failed(client, db, now):
    rows = [snake(product_event(now - timedelta(minutes=1), isError=flag)) for flag in (1, True, 0)]
    rows.append(snake(product_event(now - timedelta(minutes=1), isError=2)))
    body = (await _post(client, "product_events", ndjson(rows))).json()
    assert body["successful_rows"] == 3
    assert [(r["line"], r["field"]) for r in body["rejected"]] == [(4, "is_error")]
    async with db.read() as conn:
        stored = dict(
            (await conn.execute(select(product_events.c.event_id, product_events.c.is_error))).all()
        )
    assert [stored[r["event_id"]] for r in rows[:3]] == [True, True, False]


async def test_a_document_postgres_cannot_store_is_rejected_alone(client, db, now):
    """jsonb holds no NUL character: that line is rejected, the body's others stored."""
    at = now - timedelta(minutes=1)
    rows = [
        snake(product_event(at, properties={"plan": "pro"})),
        snake(product_event(at, properties={"note": "bad\x00value"})),
        snake(product_event(at, properties=["fine", {"bad\x00key": 1}])),
        snake(product_event(at)),
    ]
    response = await _post(client, "product_events", ndjson(rows))
    assert response.status_code == 202
    body = response.json()
    assert body["successful_rows"] == 2
    assert [(r["line"], r["field"]) for r in body["rejected"]] == [
        (2, "properties"),
        (3, "properties"),
    ]
    async with db.read() as conn:
        stored = set((await conn.execute(select(product_events.c.event_id))).scalars())
    assert stored == {rows[0]["event_id"], rows[3]["event_id"]}


@pytest.mark.parametrize(
    "name", ["product_events", "api_requests", "ml_model_predictions", "metrics"]
)
async def test_a_body_of_nothing_but_bad_lines_is_answered_line_by_line(client, name):
    response = await _post(client, name, "{not json\n[1]\n")
    assert response.status_code == 202
    body = response.json()
    assert (body["successful_rows"], body["quarantined_rows"]) == (0, 2)
    assert [r["line"] for r in body["rejected"]] == [1, 2]


async def test_documents_nested_deeper_than_the_limit_are_rejected_alone(client, db, now):
    """Deeper than MAX_DEPTH levels a document is refused by name; deeper than the
    JSON parser goes, its line is not JSON; the others are stored."""
    at = now - timedelta(minutes=1)

    def nested(depth: int) -> list:
        document: list = []
        for _ in range(depth - 1):
            document = [document]
        return document

    rows = [
        snake(product_event(at, properties=nested(depth))) for depth in (MAX_DEPTH, MAX_DEPTH + 1)
    ]
    lines = [json.dumps(row) for row in rows]
    lines.append(lines[0].replace('"e-', '"deep-e-').replace("[]", "[" * 5000 + "]" * 5000))
    response = await _post(client, "product_events", "\n".join(lines))
    assert response.status_code == 202
    body = response.json()
    assert body["successful_rows"] == 1
    assert [(r["line"], r["field"]) for r in body["rejected"]] == [(2, "properties"), (3, None)]
    assert f"more than {MAX_DEPTH} levels" in body["rejected"][0]["reason"]
    async with db.read() as conn:
        stored = (await conn.execute(select(product_events.c.event_id))).scalars().all()
        kept = (await conn.execute(select(quarantine.c.row_index).order_by("row_index"))).all()
    assert stored == [rows[0]["event_id"]]
    assert [k.row_index for k in kept] == [2, 3]  # quarantined, too deep or not


async def test_wait_true_answers_200_once_the_rows_are_in_the_aggregates(client, now):
    rows = [snake(r) for r in product_events_mix(now, count=30)]
    response = await _post(client, "product_events", ndjson(rows), wait="true")
    assert response.status_code == 200
    accepted = response.json()["successful_rows"]
    query = '{ product(id: "shop") { overview(range: {from: "%s"}) { totalEvents } } }'
    since = (now - timedelta(days=2)).isoformat()
    answer = await client.post("/graphql", json={"query": query % since})
    assert answer.json()["data"]["product"]["overview"]["totalEvents"] == accepted == 30


async def test_a_retried_body_stores_nothing_twice(client, db, now):
    body = ndjson([snake(r) for r in product_events_mix(now, count=25)])
    first = (await _post(client, "product_events", body)).json()
    again = (await _post(client, "product_events", body)).json()
    assert (first["successful_rows"], first["duplicates"]) == (25, 0)
    assert (again["successful_rows"], again["duplicates"]) == (0, 25)
    async with db.read() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM product_events"))).scalar() == 25


async def _stored_state(db):
    async with db.read() as conn:
        events = (
            await conn.execute(
                select(*[c for c in product_events.c if c.name not in ("id", "received_at")])
                .order_by(product_events.c.event_id)
            )
        ).all()  # fmt: skip
        catalog = (await conn.execute(select(products).order_by(products.c.id))).all()
        kept = (
            await conn.execute(
                select(quarantine.c.kind, quarantine.c.field).order_by(quarantine.c.id)
            )
        ).all()
    return events, catalog, kept


async def test_events_and_the_mutation_store_and_count_the_same_rows_alike(client, gql, db, now):
    rows = product_events_mix(now, count=30, properties={"plan": "pro"})
    rows += [
        dict(rows[2]),
        product_event(now - timedelta(minutes=2), eventType=""),
        product_event(now + timedelta(hours=1)),
        product_event(now - timedelta(minutes=3), durationMs=-1, productName="Shop 2"),
        product_event(now - timedelta(minutes=4), productName="Shop 3", isError=True),
    ]
    by_mutation = (await gql(INGEST_PRODUCT_EVENTS, {"events": rows}))["ingestProductEvents"]
    mutation_state = await _stored_state(db)
    async with db.write() as conn:
        await conn.execute(text("TRUNCATE product_events, products, quarantine RESTART IDENTITY"))
    by_events = (await _post(client, "product_events", ndjson(rows))).json()
    assert (by_events["successful_rows"], by_events["duplicates"]) == (
        by_mutation["accepted"],
        by_mutation["duplicates"],
    )
    assert [(r["line"] - 1, r["field"]) for r in by_events["rejected"]] == [
        (r["index"], to_snake_case(r["field"])) for r in by_mutation["rejected"]
    ]
    assert await _stored_state(db) == mutation_state


async def test_a_body_over_the_limit_is_refused_with_413(db, settings):
    small = settings.model_copy(update={"max_body_bytes": 2_000})
    transport = httpx.ASGITransport(app=create_app(db, small, owns_database=False))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gateway", headers=ADMIN_HEADERS
    ) as http:
        now = datetime.now(UTC)
        body = ndjson([snake(product_event(now - timedelta(minutes=1))) for _ in range(40)])
        response = await _post(http, "product_events", body)
    assert response.status_code == 413
    async with db.read() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM product_events"))).scalar() == 0


async def test_a_busy_gateway_answers_429_with_retry_after(db, settings):
    one = settings.model_copy(update={"ingest_concurrency": 1})
    server = uvicorn.Server(
        uvicorn.Config(create_app(db, one, owns_database=False), host="127.0.0.1", port=0)
    )
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        row = ndjson([{"name": "a", "type": "GAUGE", "value": 1}]).encode()
        # The first body announces more bytes than it sends yet, so it holds the only slot.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /v0/events?name=metrics HTTP/1.1\r\nHost: gateway\r\n"
            + f"Authorization: {ADMIN_HEADERS['Authorization']}\r\n".encode()
            + f"Content-Length: {len(row) * 2}\r\n\r\n".encode()
            + row
        )
        await writer.drain()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for _ in range(100):
                busy = await http.post(
                    "/v0/events", params={"name": "metrics"}, content=row, headers=ADMIN_HEADERS
                )
                if busy.status_code == 429:
                    break
                await asyncio.sleep(0.02)
            writer.write(row)
            await writer.drain()
            first = await asyncio.wait_for(reader.readline(), timeout=10)
            writer.close()
            after = await http.post(
                "/v0/events", params={"name": "metrics"}, content=row, headers=ADMIN_HEADERS
            )
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=10)
    assert busy.status_code == 429
    assert busy.headers["retry-after"] == "1"
    assert first.startswith(b"HTTP/1.1 202")
    assert after.status_code == 202


@pytest.mark.parametrize(
    ("params", "status"),
    [({"name": "nope"}, 404), ({}, 400), ({"name": "metrics", "wait": "maybe"}, 400)],
)
async def test_unknown_data_source_or_bad_parameters_are_refused(client, params, status):
    response = await client.post("/v0/events", params=params, content=b"")
    assert response.status_code == status
    assert response.json()["error"]


async def test_events_need_a_valid_token(client):
    response = await client.post(
        "/v0/events",
        params={"name": "metrics"},
        content=b'{"name": "a", "type": "GAUGE", "value": 1}',
        headers={"Authorization": "Bearer wrong"},
    )
    assert response.status_code == 401
    assert response.json()["error"]
    assert response.headers["www-authenticate"] == "Bearer"
    by_query = await client.post(
        "/v0/events",
        params={"name": "metrics", "token": ADMIN_HEADERS["Authorization"].split()[1]},
        content=b'{"name": "a", "type": "GAUGE", "value": 1}',
        headers={"Authorization": ""},
    )
    assert by_query.status_code == 202
