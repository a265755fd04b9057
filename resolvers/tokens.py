"""Token management: create (the secret shown once), list, revoke. ADMIN only."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping
from strawberry.types import Info

from db.tokens import create_token, live_tokens, revoke_token
from resolvers.access import ADMIN, require, secret_hash
from resolvers.arguments import utc
from resolvers.context import context_of
from resolvers.errors import bad_input

SECRET_BYTES = 32


def new_secret() -> str:
    """A random secret (32 bytes from `secrets`), URL-safe so it fits `?token=`."""
    return "agw_" + secrets.token_urlsafe(SECRET_BYTES)


async def api_tokens(info: Info[Any, Any]) -> list[RowMapping]:
    """Every live token."""
    require(info, ADMIN)
    async with context_of(info).db.read() as conn:
        return await live_tokens(conn)


async def create_api_token(
    info: Info[Any, Any],
    name: str,
    scopes: Sequence[str],
    resource_ids: Sequence[str] | None,
    expires_at: datetime | None,
) -> tuple[str, RowMapping]:
    """A new token and its secret; the secret is stored only as a hash."""
    require(info, ADMIN)
    context = context_of(info)
    if not name.strip():
        raise bad_input("input.name is required and must not be empty", "input")
    if not scopes:
        raise bad_input("input.scopes needs at least one scope", "input")
    if expires_at is not None and utc(expires_at) <= context.now:
        raise bad_input("input.expiresAt is in the past", "input")
    secret = new_secret()
    async with context.db.write() as conn:
        row = await create_token(
            conn,
            uuid.uuid4().hex,
            name.strip(),
            secret_hash(secret),
            sorted(set(scopes)),
            None if resource_ids is None else sorted(set(resource_ids)),
            None if expires_at is None else utc(expires_at),
        )
    return secret, row


async def revoke_api_token(info: Info[Any, Any], token_id: str) -> bool:
    """Revoke a token at once; its secret is refused from the next request on."""
    require(info, ADMIN)
    context = context_of(info)
    async with context.db.write() as conn:
        revoked = await revoke_token(conn, token_id, context.now)
    if context.token_cache is not None:
        context.token_cache.forget(token_id)
    return revoked
