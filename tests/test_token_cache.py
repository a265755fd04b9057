"""API tokens are read through a short-lived cache: a request with a recently used
token needs no lookup, yet a revocation here is refused on the next request, one
made elsewhere within GATEWAY_TOKEN_CACHE_SECONDS, and a refused secret is never
remembered as refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import update

from db.engine import Database
from db.tables import api_tokens
from db.tokens import create_token as store_token
from gateway.app import create_app
from gateway.settings import Settings
from resolvers.access import secret_hash
from resolvers.token_cache import TokenCache
from tests.factories import ADMIN_HEADERS, bearer, create_token

STATS = "{ stats { products } }"
REVOKE = "mutation($id: ID!) { revokeApiToken(id: $id) }"


def _token_lookups(statements: list[str]) -> list[str]:
    return [s for s in statements if "FROM api_tokens" in s and s.lstrip().startswith("SELECT")]


async def _status(client: httpx.AsyncClient, secret: str) -> int:
    response = await client.post("/graphql", json={"query": STATS}, headers=bearer(secret))
    return response.status_code


@asynccontextmanager
async def _client(db: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(db, settings, owns_database=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway", headers=ADMIN_HEADERS
    ) as http:
        yield http


async def test_a_recently_used_token_is_authenticated_without_a_lookup(client, statements):
    secret, _ = await create_token(client)
    assert await _status(client, secret) == 200
    statements.statements.clear()
    assert [await _status(client, secret) for _ in range(5)] == [200] * 5
    assert _token_lookups(statements.statements) == []


async def test_a_token_revoked_here_is_refused_on_the_very_next_request(client):
    secret, token = await create_token(client)
    assert [await _status(client, secret) for _ in range(3)] == [200] * 3
    revoked = await client.post(
        "/graphql", json={"query": REVOKE, "variables": {"id": token["id"]}}
    )
    assert revoked.json() == {"data": {"revokeApiToken": True}}
    assert await _status(client, secret) == 401


async def test_a_token_created_after_its_secret_was_refused_works_at_once(client, db):
    secret = f"agw_{uuid.uuid4().hex}"
    assert await _status(client, secret) == 401
    async with db.write() as conn:
        await store_token(conn, uuid.uuid4().hex, "late", secret_hash(secret), ["READ"], None, None)
    assert await _status(client, secret) == 200


async def test_a_revocation_elsewhere_takes_effect_within_the_cache_time(db, settings):
    async with _client(db, settings.model_copy(update={"token_cache_seconds": 0.2})) as client:
        secret, token = await create_token(client)
        assert await _status(client, secret) == 200
        # Another process revokes it: this one hears nothing and must notice by itself.
        async with db.write() as conn:
            revoked = update(api_tokens).where(api_tokens.c.id == token["id"])
            await conn.execute(revoked.values(revoked_at=datetime.now(UTC)))
        await asyncio.sleep(0.25)
        assert await _status(client, secret) == 401


async def test_with_the_cache_off_every_request_looks_its_token_up(db, settings, statements):
    async with _client(db, settings.model_copy(update={"token_cache_seconds": 0})) as client:
        secret, _ = await create_token(client)
        statements.statements.clear()
        assert [await _status(client, secret) for _ in range(3)] == [200] * 3
        assert len(_token_lookups(statements.statements)) == 3


def test_a_row_read_before_a_revocation_is_not_kept_after_it() -> None:
    cache = TokenCache(ttl=60)
    row: Any = {"id": "t1"}
    read_in = cache.generation
    cache.forget("t1")  # the revocation commits while the read is under way
    cache.put("h1", row, read_in)
    assert cache.get("h1") is None
    cache.put("h1", row, cache.generation)
    assert cache.get("h1") == row
    cache.forget("t1")
    assert cache.get("h1") is None
