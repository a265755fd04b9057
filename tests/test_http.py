"""The HTTP surface: GraphQL over POST, GraphiQL, health, bad bodies, the admin token."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from db.engine import Database
from gateway.app import create_app
from gateway.settings import Settings

OVERVIEW = '{ product(id: "nothing-here") { id } }'


async def test_query_over_http_returns_json_data(client):
    response = await client.post("/graphql", json={"query": OVERVIEW})
    assert response.status_code == 200
    assert response.json() == {"data": {"product": None}}


async def test_graphiql_page_is_served_to_browsers(client):
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_malformed_json_body_is_a_client_error(client):
    response = await client.post(
        "/graphql",
        content=b'{"query": "{ stats { products } ',
        headers={"content-type": "application/json"},
    )
    assert 400 <= response.status_code < 500


async def test_invalid_document_is_reported_without_a_stack_trace(client):
    response = await client.post("/graphql", json={"query": "{ stats { nope } }"})
    body = response.json()
    assert "nope" in body["errors"][0]["message"]
    assert "Traceback" not in response.text


async def test_healthz_is_200_when_the_database_answers(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "up"


async def test_healthz_is_503_when_the_database_does_not_answer(settings):
    # Port 9 (discard) on loopback has no Postgres behind it.
    unreachable = Database("postgresql+psycopg://postgres@127.0.0.1:9/none", pool_size=1)
    app = create_app(unreachable, settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        response = await http.get("/healthz")
    await unreachable.dispose()
    assert response.status_code == 503


@pytest.fixture
async def guarded(db: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that requires the admin token."""
    locked = settings.model_copy(update={"admin_token": SecretStr("s3cret-token")})
    transport = httpx.ASGITransport(app=create_app(db, locked, owns_database=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


async def test_admin_token_is_required_when_configured(guarded):
    missing = await guarded.post("/graphql", json={"query": OVERVIEW})
    wrong = await guarded.post(
        "/graphql", json={"query": OVERVIEW}, headers={"authorization": "Bearer nope"}
    )
    right = await guarded.post(
        "/graphql", json={"query": OVERVIEW}, headers={"authorization": "Bearer s3cret-token"}
    )
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert right.json() == {"data": {"product": None}}


async def test_graphiql_page_needs_no_token_but_queries_do(guarded):
    page = await guarded.get("/graphql", headers={"accept": "text/html"})
    query = await guarded.get("/graphql", params={"query": OVERVIEW})
    assert (page.status_code, query.status_code) == (200, 401)
