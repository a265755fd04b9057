"""API tokens: stored by the hash of their secret, looked up, listed, revoked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from db.tables import api_tokens as t


async def create_token(
    conn: AsyncConnection,
    token_id: str,
    name: str,
    secret_hash: str,
    scopes: Sequence[str],
    resource_ids: Sequence[str] | None,
    expires_at: datetime | None,
) -> RowMapping:
    """Store a new token; its row."""
    statement = (
        t.insert()
        .values(
            id=token_id,
            name=name,
            secret_hash=secret_hash,
            scopes=list(scopes),
            resource_ids=None if resource_ids is None else list(resource_ids),
            expires_at=expires_at,
        )
        .returning(*t.c)
    )
    return (await conn.execute(statement)).mappings().one()


async def token_by_hash(conn: AsyncConnection, secret_hash: str) -> RowMapping | None:
    """The token whose secret hashes to secret_hash, revoked or not."""
    found = await conn.execute(select(t).where(t.c.secret_hash == secret_hash))
    return found.mappings().first()


async def live_tokens(conn: AsyncConnection) -> list[RowMapping]:
    """Every token not revoked, oldest first."""
    statement = select(t).where(t.c.revoked_at.is_(None)).order_by(t.c.created_at, t.c.id)
    return list((await conn.execute(statement)).mappings())


async def revoke_token(conn: AsyncConnection, token_id: str, at: datetime) -> bool:
    """Revoke a live token; False when no live token has this id."""
    statement = (
        update(t)
        .where(t.c.id == token_id, t.c.revoked_at.is_(None))
        .values(revoked_at=at)
        .returning(t.c.id)
    )
    return (await conn.execute(statement)).first() is not None


async def mark_used(conn: AsyncConnection, used: dict[str, datetime]) -> None:
    """Record when each token was last used (a batch, never one write per request)."""
    for token_id, at in used.items():
        await conn.execute(update(t).where(t.c.id == token_id).values(last_used_at=at))
