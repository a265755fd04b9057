"""Persisted query documents by sha256 (Apollo's automatic persisted queries)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from db.tables import persisted_queries as p


async def persisted_document(conn: AsyncConnection, sha256: str) -> RowMapping | None:
    """The stored document of a hash and whether an ADMIN allowed it."""
    found = await conn.execute(select(p.c.document, p.c.allowed).where(p.c.sha256 == sha256))
    return found.mappings().first()


async def persist_document(
    conn: AsyncConnection, sha256: str, document: str, allowed: bool
) -> None:
    """Keep a document under its hash; registering it as allowed sticks."""
    statement = insert(p).values(sha256=sha256, document=document, allowed=allowed)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[p.c.sha256], set_={"allowed": p.c.allowed | statement.excluded.allowed}
        )
    )
