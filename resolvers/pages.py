"""Keyset pages of entity catalogs and of raw fact rows, before they become connections."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from db import catalog, rows
from db.compiler import AggregateQuery, Fact
from resolvers.access import readable_ids
from resolvers.arguments import decode_cursor, decode_time_cursor, encode_cursor, page_size
from resolvers.context import GatewayContext

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    """Items of one page, whether more follow, and a deferred total count."""

    items: list[T]
    has_next: bool
    end_cursor: str | None
    total: Callable[[], Awaitable[int]]


async def catalog_page(
    context: GatewayContext,
    entities: catalog.Catalog,
    kind: str,
    search: str | None,
    first: int,
    after: str | None,
) -> Page[RowMapping]:
    """Entities in key order, optionally matching search; items are catalog rows."""
    first = page_size(first, context.settings.max_page_size)
    position = decode_cursor(after, kind, 1, (str,))
    # Through the loaders, so the same page asked twice in a request (by two
    # dashboard widgets) is one statement; confined to what the caller may read.
    only = readable_ids(context.principal)
    asked = (entities, search, first, position[0] if position else None, only)
    found = await context.loaders.load(_catalog_page, asked, "")

    async def total() -> int:
        return await context.loaders.load(_catalog_count, (entities, search, only), "")

    items = found[:first]
    end_cursor = encode_cursor(kind, items[-1][entities.key]) if items else None
    return Page(items, len(found) > first, end_cursor, total)


async def rows_page(
    context: GatewayContext,
    fact: Fact,
    kind: str,
    entity_id: str,
    question: AggregateQuery,
    first: int,
    after: str | None,
    node: Callable[[RowMapping], T],
) -> Page[T]:
    """An entity's fact rows matching question's range and filters, newest first.

    Batched: the same page of every listed entity is one statement, and so is
    their total count.
    """
    first = page_size(first, context.settings.max_page_size)
    position = decode_time_cursor(after, kind, fact.row_id.type.python_type)
    asked = rows.RowsQuestion(fact, question, first, position)
    found = await context.loaders.load(rows.newest_rows, asked, entity_id)

    async def total() -> int:
        counted = rows.RowsQuestion(fact, question)
        return await context.loaders.load(rows.count_rows, counted, entity_id)

    items = found[:first]
    end_cursor = encode_cursor(kind, *rows.cursor_of(fact, items[-1])) if items else None
    return Page([node(row) for row in items], len(found) > first, end_cursor, total)


async def find_entity(context: GatewayContext, entities: catalog.Catalog, key: str) -> Any:
    """One catalog row, or None when the entity is unknown or not the caller's;
    lookups of a request batch."""
    if not context.principal.sees(str(key)):
        return None
    return await context.loaders.load(_catalog_rows, entities, key)


async def _catalog_page(
    conn: AsyncConnection,
    asked: tuple[catalog.Catalog, str | None, int, str | None, frozenset[str] | None],
    _: Any,
) -> dict[str, list[RowMapping]]:
    return {"": await catalog.page(conn, *asked)}


async def _catalog_count(
    conn: AsyncConnection, asked: tuple[catalog.Catalog, str | None, frozenset[str] | None], _: Any
) -> dict[str, int]:
    return {"": await catalog.count(conn, *asked)}


async def _catalog_rows(
    conn: AsyncConnection, entities: catalog.Catalog, keys: Sequence[str]
) -> dict[str, RowMapping | None]:
    found = await catalog.by_keys(conn, entities, keys)
    return {key: found.get(key) for key in keys}
