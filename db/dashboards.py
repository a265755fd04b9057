"""Saved dashboards: rows of the dashboards table, read and written whole.

Who may see which dashboard is decided above (resolvers/access.py); this
module takes the answer as plain values (an owner id, whether to see all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from db.compiler import CODE_POINT
from db.tables import dashboards as t


@dataclass(frozen=True)
class Viewer:
    """Whose dashboards a reader sees: public ones, its own (owner), or every one."""

    owner: str | None
    sees_all: bool


def _visible(viewer: Viewer) -> Select[Any]:
    statement = select(t)
    if not viewer.sees_all:
        mine = t.c.owner == viewer.owner if viewer.owner is not None else t.c.is_public
        statement = statement.where(or_(t.c.is_public, mine))
    return statement


async def listing(conn: AsyncConnection, viewer: Viewer) -> list[RowMapping]:
    """The dashboards viewer sees, by name then id."""
    statement = _visible(viewer).order_by(t.c.name.collate(CODE_POINT), t.c.id)
    return list((await conn.execute(statement)).mappings())


async def find(conn: AsyncConnection, dashboard_id: str) -> RowMapping | None:
    """One dashboard, whoever owns it (the caller decides what it may do with it)."""
    found = await conn.execute(select(t).where(t.c.id == dashboard_id))
    return found.mappings().one_or_none()


async def create(
    conn: AsyncConnection,
    dashboard_id: str,
    owner: str | None,
    values: Mapping[str, Any],
    at: datetime,
) -> RowMapping:
    """Store a new dashboard; its row."""
    statement = insert(t).values(
        id=dashboard_id, owner=owner, created_at=at, updated_at=at, **values
    )
    return (await conn.execute(statement.returning(*t.c))).mappings().one()


async def replace(
    conn: AsyncConnection, dashboard_id: str, values: Mapping[str, Any], at: datetime
) -> RowMapping | None:
    """Overwrite a dashboard's content (owner and createdAt stay); None when it is gone."""
    statement = update(t).where(t.c.id == dashboard_id).values(updated_at=at, **values)
    return (await conn.execute(statement.returning(*t.c))).mappings().one_or_none()


async def remove(conn: AsyncConnection, dashboard_id: str) -> bool:
    """Delete a dashboard; whether it existed."""
    deleted = await conn.execute(delete(t).where(t.c.id == dashboard_id).returning(t.c.id))
    return deleted.first() is not None
