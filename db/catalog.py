"""Entity catalogs (products, endpoints, models): search, keyset pages, lookups."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, func, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from db.compiler import CODE_POINT


@dataclass(frozen=True, eq=False)
class Catalog:
    """A table of known entities, keyed and ordered by one text column."""

    table: Table
    key: str
    searchable: tuple[str, ...]


def like_pattern(search: str) -> str:
    """A case-insensitive substring pattern with LIKE's wildcards escaped."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search(
    catalog: Catalog, search: str | None, only: Collection[str] | None = None
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if only is not None:  # a confined caller: only its own entities
        clauses.append(catalog.table.c[catalog.key].in_(sorted(only)))
    if search:
        pattern = like_pattern(search)
        searched = [catalog.table.c[c].ilike(pattern, escape="\\") for c in catalog.searchable]
        clauses.append(or_(*searched))
    return clauses


async def page(
    conn: AsyncConnection,
    catalog: Catalog,
    search: str | None,
    first: int,
    after: str | None,
    only: Collection[str] | None = None,
) -> list[RowMapping]:
    """Up to first + 1 entities after the key `after`, in key order (the extra row tells
    whether there is a next page); only the keys in `only` when it is given."""
    key = catalog.table.c[catalog.key].collate(CODE_POINT)
    statement = (
        select(catalog.table).where(*_search(catalog, search, only)).order_by(key).limit(first + 1)
    )
    if after is not None:
        statement = statement.where(key > after)
    return list((await conn.execute(statement)).mappings())


async def count(
    conn: AsyncConnection,
    catalog: Catalog,
    search: str | None,
    only: Collection[str] | None = None,
) -> int:
    """How many entities match search (among `only` when it is given)."""
    where = _search(catalog, search, only)
    statement = select(func.count()).select_from(catalog.table).where(*where)
    return int((await conn.execute(statement)).scalar_one())


async def by_keys(
    conn: AsyncConnection, catalog: Catalog, keys: Sequence[Any]
) -> dict[Any, RowMapping]:
    """The entities among keys that exist, by key."""
    key = catalog.table.c[catalog.key]
    rows = await conn.execute(select(catalog.table).where(key.in_(list(keys))))
    return {row[catalog.key]: row for row in rows.mappings()}


async def keys(conn: AsyncConnection, catalog: Catalog) -> list[str]:
    """Every entity's key, in key order."""
    key = catalog.table.c[catalog.key]
    rows = await conn.execute(select(key).order_by(key.collate(CODE_POINT)))
    return list(rows.scalars())
