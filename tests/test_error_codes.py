"""Every error a client sees has a code: masked unexpected errors with a request id
the server logged, parse and coercion errors, values the database would refuse."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx

from db.ingest.fields import MAX_DEPTH
from gateway.app import create_app
from resolvers import admin
from tests.factories import ADMIN_HEADERS, INGEST_PRODUCT_EVENTS, product_event


async def test_an_unexpected_error_is_masked_with_a_request_id_logged_beside_it(
    gql, monkeypatch, caplog
):
    async def broken(*_: object) -> None:
        raise ValueError("SELECT secret FROM postgresql://user:pw@db/prod")

    monkeypatch.setattr(admin, "gateway_counts", broken)
    with caplog.at_level(logging.ERROR, logger="gateway.errors"):
        [error] = await gql.errors("{ stats { products } }")
    assert error.message == "Unexpected error."
    assert error.extensions["code"] == "INTERNAL_SERVER_ERROR"
    request_id = error.extensions["requestId"]
    [record] = [r for r in caplog.records if request_id in r.getMessage()]
    assert record.exc_info is not None
    assert "SELECT secret" in str(record.exc_info[1])


async def test_syntax_errors_carry_graphql_parse_failed(gql):
    [error] = await gql.errors("{ stats { products }")
    assert error.extensions["code"] == "GRAPHQL_PARSE_FAILED"


async def test_a_bad_enum_or_scalar_in_variables_is_bad_user_input(gql):
    document = 'query($by: ProductDimension!) { product(id: "x") { breakdown(by: $by) { value } } }'
    [enum_error] = await gql.errors(document, {"by": "NOPE"})
    [scalar_error] = await gql.errors(
        'query($r: TimeRange) { product(id: "x") { overview(range: $r) { totalEvents } } }',
        {"r": {"from": "not a date"}},
    )
    assert enum_error.extensions["code"] == "BAD_USER_INPUT"
    assert scalar_error.extensions["code"] == "BAD_USER_INPUT"


async def test_a_nul_in_an_argument_is_bad_user_input_inline_and_in_variables(gql):
    [inline] = await gql.errors('{ product(id: "a\\u0000b") { id } }')
    [variable] = await gql.errors("query($id: ID!) { product(id: $id) { id } }", {"id": "a\x00b"})
    for error in (inline, variable):
        assert error.extensions == {"code": "BAD_USER_INPUT", "argument": "id"}
        assert "NUL" in error.message


async def test_a_number_out_of_range_is_bad_user_input(gql):
    [error] = await gql.errors(
        '{ endpoint(name: "/x") { latencyHistogram(bucketMs: 1e-310) { requests } } }'
    )
    assert error.extensions["code"] == "BAD_USER_INPUT"
    assert "bucketMs" in error.message


async def test_a_nul_in_json_data_rejects_that_row_and_stores_the_rest(gql, now):
    at = now - timedelta(minutes=1)
    rows = [
        product_event(at),
        product_event(at, properties={"note": "bad\x00value"}),
        product_event(at, properties={"bad\x00key": 1}),
        product_event(at),
    ]
    result = (await gql(INGEST_PRODUCT_EVENTS, {"events": rows}, now=now))["ingestProductEvents"]
    assert result["accepted"] == 2
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [
        (1, "properties"),
        (2, "properties"),
    ]
    quarantined = await gql("{ quarantine { totalCount } }")
    assert quarantined["quarantine"]["totalCount"] == 2


async def test_a_json_document_too_deep_to_store_rejects_that_row(gql, now):
    """Past MAX_DEPTH levels a document is refused per row (deeper still, encoding it
    for the database would exhaust Python's stack), and the row is quarantined."""
    at = now - timedelta(minutes=1)
    deep: list = []
    for _ in range(MAX_DEPTH + 500):
        deep = [deep]
    rows = [product_event(at), product_event(at, properties=deep), product_event(at)]
    result = (await gql(INGEST_PRODUCT_EVENTS, {"events": rows}, now=now))["ingestProductEvents"]
    assert result["accepted"] == 2
    [rejected] = result["rejected"]
    assert (rejected["index"], rejected["field"]) == (1, "properties")
    assert f"more than {MAX_DEPTH} levels" in rejected["message"]
    quarantined = await gql("{ quarantine { totalCount } }")
    assert quarantined["quarantine"]["totalCount"] == 1


async def test_client_errors_are_logged_in_one_line_without_a_traceback(gql, caplog):
    with caplog.at_level(logging.INFO, logger="gateway.errors"):
        await gql.errors("{ products(first: 100000) { totalCount } }")
    [record] = [r for r in caplog.records if r.name == "gateway.errors"]
    assert record.exc_info is None
    assert "BAD_USER_INPUT" in record.getMessage()
    assert "\n" not in record.getMessage()


async def test_ingest_failure_messages_name_no_driver_class(gql, db, now):
    from sqlalchemy import text

    async with db.write() as conn:
        await conn.execute(text("ALTER TABLE quarantine RENAME TO quarantine_offline"))
    try:
        rows = [product_event(now - timedelta(minutes=1), eventType="")]
        [error] = await gql.errors(INGEST_PRODUCT_EVENTS, {"events": rows})
    finally:
        async with db.write() as conn:
            await conn.execute(text("ALTER TABLE quarantine_offline RENAME TO quarantine"))
    assert "Error" not in error.message
    assert "psycopg" not in error.message.lower()


async def test_without_introspection_there_is_no_schema_and_no_field_suggestion(db, settings):
    closed = settings.model_copy(update={"introspection": False, "graphiql": False})
    app = create_app(db, closed, owns_database=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", headers=ADMIN_HEADERS
    ) as http:
        schema_query = await http.post(
            "/graphql", json={"query": "{ __schema { types { name } } }"}
        )
        typo = await http.post("/graphql", json={"query": "{ product { id } prodcts { id } }"})
        page = await http.get("/graphql", headers={"accept": "text/html"})
    assert schema_query.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "Did you mean" not in typo.text
    assert page.status_code == 404
