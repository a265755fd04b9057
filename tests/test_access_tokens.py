"""API tokens: created with a secret shown once, stored as a hash, refused when
unknown, expired or revoked, with lastUsedAt kept without a write per request."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from db.tables import api_tokens
from tests.factories import ADMIN_SECRET, bearer, create_token

STATS = "{ stats { products } }"
LIST = "{ apiTokens { id name scopes resourceIds lastUsedAt } }"
REVOKE = "mutation($id: ID!) { revokeApiToken(id: $id) }"


async def test_a_created_token_reads_with_its_secret_which_is_stored_only_as_a_hash(client, db):
    secret, token = await create_token(client, name="dash", scopes=["READ"])
    assert len(secret) >= 43  # 32 random bytes, URL-safe base64
    assert token["scopes"] == ["READ"]
    assert token["resourceIds"] is None
    response = await client.post("/graphql", json={"query": STATS}, headers=bearer(secret))
    assert response.status_code == 200
    assert "errors" not in response.json()
    async with db.read() as conn:
        stored = (await conn.execute(select(api_tokens))).mappings().one()
    assert secret not in {str(v) for v in stored.values()}
    assert stored["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()


async def test_unknown_revoked_and_expired_secrets_are_refused_with_401(client):
    secret, token = await create_token(client)
    soon = datetime.now(UTC) + timedelta(seconds=1)
    expiring, _ = await create_token(client, expiresAt=soon.isoformat())
    revoked = await client.post(
        "/graphql", json={"query": REVOKE, "variables": {"id": token["id"]}}
    )
    assert revoked.json() == {"data": {"revokeApiToken": True}}
    before_expiry = await client.post("/graphql", json={"query": STATS}, headers=bearer(expiring))
    assert before_expiry.status_code == 200
    await asyncio.sleep((soon - datetime.now(UTC)).total_seconds() + 0.05)
    statuses = [
        (await client.post("/graphql", json={"query": STATS}, headers=bearer(s))).status_code
        for s in (secret, expiring, "agw_not-a-token", secret + "x")
    ]
    assert statuses == [401, 401, 401, 401]
    again = await client.post("/graphql", json={"query": REVOKE, "variables": {"id": token["id"]}})
    assert again.json() == {"data": {"revokeApiToken": False}}


async def test_requests_without_a_token_are_refused_on_every_graphql_address(client):
    anonymous = {"Authorization": ""}
    post = await client.post("/graphql", json={"query": STATS}, headers=anonymous)
    get = await client.get("/graphql", params={"query": STATS}, headers=anonymous)
    assert (post.status_code, get.status_code) == (401, 401)
    assert post.headers["www-authenticate"] == "Bearer"
    # Still a GraphQL answer: an error with its code.
    assert post.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_the_token_query_parameter_is_accepted_like_the_header(client):
    secret, _ = await create_token(client)
    response = await client.get(
        "/graphql", params={"query": STATS, "token": secret}, headers={"Authorization": ""}
    )
    assert response.status_code == 200
    assert "errors" not in response.json()


async def test_the_admin_secret_from_the_environment_is_an_admin_token(client):
    listed = await client.post("/graphql", json={"query": LIST}, headers=bearer(ADMIN_SECRET))
    assert listed.json() == {"data": {"apiTokens": []}}


async def test_last_used_at_is_recorded_at_first_use_then_at_most_once_a_minute(
    client, db, statements
):
    secret, token = await create_token(client)
    assert token["lastUsedAt"] is None
    await client.post("/graphql", json={"query": STATS}, headers=bearer(secret))
    first = (await client.post("/graphql", json={"query": LIST})).json()["data"]["apiTokens"][0]
    assert first["lastUsedAt"] is not None
    statements.statements.clear()
    for _ in range(5):
        await client.post("/graphql", json={"query": STATS}, headers=bearer(secret))
    writes = [
        s for s in statements.statements if s.lstrip().upper().startswith("UPDATE API_TOKENS")
    ]
    assert writes == []


async def test_token_management_answers_the_contract_shape(client):
    _, token = await create_token(
        client, name="ingest", scopes=["APPEND", "READ"], resourceIds=["a"]
    )
    listed = (await client.post("/graphql", json={"query": LIST})).json()["data"]["apiTokens"]
    assert listed == [
        {
            "id": token["id"],
            "name": "ingest",
            "scopes": ["APPEND", "READ"],
            "resourceIds": ["a"],
            "lastUsedAt": None,
        }
    ]


async def test_a_token_expiring_in_the_past_is_bad_input(client):
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    response = await client.post(
        "/graphql",
        json={
            "query": "mutation($i: ApiTokenInput!) { createApiToken(input: $i) { secret } }",
            "variables": {"i": {"name": "x", "scopes": ["READ"], "expiresAt": past}},
        },
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
