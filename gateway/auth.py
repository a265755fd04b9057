"""Who is calling: the secret a request presents, and the principal it stands for.

Every surface (GraphQL over HTTP and websockets, the REST pipes, the NDJSON
events path, the console's API calls) authenticates through ``authenticate``
(websockets through ``principal_for_secret`` with their connection_init
secret). Every request that reads or writes data needs a valid secret: a
live API token, or GATEWAY_ADMIN_TOKEN as an ADMIN secret. HTTP requests read
API tokens through the app's TokenCache (resolvers/token_cache.py says how
stale a token may be).
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException, Request, WebSocket
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import SQLAlchemyError

from db.engine import Database
from db.tokens import token_by_hash
from gateway.limits import RateLimiter, TokenUsage
from gateway.settings import Settings
from resolvers.access import FULL_ACCESS, Principal, secret_hash
from resolvers.token_cache import TokenCache

BEARER_HINT = "a valid 'Authorization: Bearer <token>' header is required"


def bearer_token(headers: Any) -> str | None:
    """The secret of an `Authorization: Bearer <secret>` header, if any."""
    value = headers.get("authorization", "") if headers else ""
    if not isinstance(value, str):
        return None
    scheme, _, secret = value.partition(" ")
    return secret.strip() if scheme.lower() == "bearer" and secret.strip() else None


def presented_secret(request: Request | WebSocket) -> str | None:
    """The Bearer header's secret, else a `?token=` parameter (as Tinybird accepts)."""
    return bearer_token(request.headers) or request.query_params.get("token") or None


def unauthenticated(message: str) -> HTTPException:
    """A 401 that tells the caller where the secret goes."""
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(scope: str) -> HTTPException:
    """A 403 for a valid token that lacks the scope a REST path needs."""
    return HTTPException(status_code=403, detail=f"this path needs a token with the {scope} scope")


def require_scope(principal: Principal, scope: str) -> Principal:
    """The principal, when it holds scope (REST paths); a 403 otherwise."""
    if not principal.may(scope):
        raise forbidden(scope)
    return principal


def _database_unavailable() -> HTTPException:
    return HTTPException(
        status_code=503,
        detail="the database is unavailable; retry shortly",
        headers={"Retry-After": "1"},
    )


async def _token_row(
    hashed: str, database: Database, cache: TokenCache | None
) -> RowMapping | None:
    """The token stored under hashed: from the cache when it was read moments ago."""
    row = cache.get(hashed) if cache is not None else None
    if row is not None:
        return row
    generation = cache.generation if cache is not None else 0
    try:
        async with database.read() as conn:
            row = await token_by_hash(conn, hashed)
    except (SQLAlchemyError, OSError) as error:
        raise _database_unavailable() from error
    if row is not None and cache is not None:
        cache.put(hashed, row, generation)
    return row


async def principal_for_secret(
    secret: str, settings: Settings, database: Database, cache: TokenCache | None = None
) -> Principal:
    """The principal of a presented secret; a 401 when it is unknown, expired or revoked."""
    admin = settings.admin_token
    if admin is not None and hmac.compare_digest(
        secret.encode(), admin.get_secret_value().encode()
    ):
        return FULL_ACCESS
    hashed = secret_hash(secret)
    row = await _token_row(hashed, database, cache)
    if row is None or not hmac.compare_digest(row["secret_hash"], hashed):
        raise unauthenticated(BEARER_HINT)
    if row["revoked_at"] is not None:
        raise unauthenticated("this token was revoked")
    if row["expires_at"] is not None and row["expires_at"] <= datetime.now(UTC):
        raise unauthenticated("this token has expired")
    resource_ids = row["resource_ids"]
    return Principal(
        token_id=row["id"],
        scopes=frozenset(row["scopes"]),
        resource_ids=None if resource_ids is None else frozenset(resource_ids),
    )


async def admit(caller: Request | WebSocket, principal: Principal, database: Database) -> None:
    """Charge the caller's rate limit (429 with Retry-After when spent) and note its use."""
    state = caller.app.state
    limiter: RateLimiter | None = getattr(state, "rate_limiter", None)
    if limiter is not None:
        wait = limiter.charge(principal.token_id or "admin")
        if wait is not None:
            raise HTTPException(
                status_code=429,
                detail=f"rate limit exceeded; retry in {wait:.2f} s",
                headers={"Retry-After": str(max(1, round(wait + 0.5)))},
            )
    usage: TokenUsage | None = getattr(state, "token_usage", None)
    if usage is not None and principal.token_id is not None:
        await usage.used(principal.token_id, database)


async def authenticate(
    request: Request | WebSocket, settings: Settings, database: Database
) -> Principal:
    """The caller's principal; 401 without a valid secret, 429 over its rate limit."""
    given = presented_secret(request)
    if given is None:
        raise unauthenticated(BEARER_HINT)
    cache: TokenCache | None = getattr(request.app.state, "token_cache", None)
    principal = await principal_for_secret(given, settings, database, cache)
    await admit(request, principal, database)
    return principal
