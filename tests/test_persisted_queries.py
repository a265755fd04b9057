"""Persisted queries in Apollo's convention (extensions.persistedQuery.sha256Hash)
over GET and POST: hit, miss, registration, and the allow-list mode."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from gateway.app import create_app
from tests.factories import ADMIN_HEADERS, bearer, create_token

DOCUMENT = "{ stats { products } }"
DIGEST = hashlib.sha256(DOCUMENT.encode()).hexdigest()
HASH_ONLY = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": DIGEST}}}
WITH_DOCUMENT = {"query": DOCUMENT, **HASH_ONLY}
JSON = {"accept": "application/json"}


def _get_params(body: dict) -> dict[str, str]:
    params = {"extensions": json.dumps(body["extensions"])}
    if "query" in body:
        params["query"] = body["query"]
    return params


async def test_an_unknown_hash_is_a_miss_then_sending_the_document_registers_it(client):
    miss = await client.post("/graphql", json=HASH_ONLY)
    assert miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = await client.post("/graphql", json=WITH_DOCUMENT)
    assert registered.json() == {"data": {"stats": {"products": 0}}}
    hit_post = await client.post("/graphql", json=HASH_ONLY)
    hit_get = await client.get("/graphql", params=_get_params(HASH_ONLY), headers=JSON)
    assert hit_post.json() == hit_get.json() == {"data": {"stats": {"products": 0}}}


async def test_a_document_that_does_not_match_its_hash_is_refused(client):
    wrong = {"query": "{ stats { models } }", **HASH_ONLY}
    response = await client.post("/graphql", json=wrong)
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.fixture
async def persisted_only(db, settings):
    app = create_app(db, settings.model_copy(update={"persisted_only": True}), owns_database=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", headers=ADMIN_HEADERS
    ) as http:
        yield http


async def test_persisted_only_runs_just_what_an_admin_registered(persisted_only):
    secret, _ = await create_token(persisted_only, scopes=["READ"])
    reader = bearer(secret)
    arbitrary = await persisted_only.post("/graphql", json={"query": DOCUMENT}, headers=reader)
    unregistered = await persisted_only.post("/graphql", json=WITH_DOCUMENT, headers=reader)
    assert arbitrary.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
    assert unregistered.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
    registered = await persisted_only.post("/graphql", json=WITH_DOCUMENT)  # the admin
    assert registered.json() == {"data": {"stats": {"products": 0}}}
    by_hash = await persisted_only.post("/graphql", json=HASH_ONLY, headers=reader)
    by_get = await persisted_only.get(
        "/graphql", params=_get_params(HASH_ONLY), headers={**reader, **JSON}
    )
    assert by_hash.json() == by_get.json() == {"data": {"stats": {"products": 0}}}


async def test_in_persisted_only_mode_a_document_a_reader_registered_is_not_allowed(
    client, persisted_only
):
    secret, _ = await create_token(client, scopes=["READ"])
    await client.post("/graphql", json=WITH_DOCUMENT, headers=bearer(secret))  # APQ registers it
    refused = await persisted_only.post("/graphql", json=HASH_ONLY, headers=bearer(secret))
    assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
