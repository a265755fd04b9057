"""Gateway-wide fields: the quarantine of rejected rows and the table counts."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from db.quarantine import count_quarantined, quarantined_page
from db.stats import gateway_counts
from resolvers.access import principal_of, readable_ids
from resolvers.arguments import decode_time_cursor, encode_cursor, page_size, time_window
from resolvers.context import context_of
from resolvers.errors import bad_input
from resolvers.pages import Page
from schema.common import GatewayStats, IngestKind, QuarantinedRow, TimeRange


async def quarantine(
    info: Info[Any, Any],
    kind: IngestKind | None,
    range_: TimeRange | None,
    first: int,
    after: str | None,
) -> Page[QuarantinedRow]:
    """Rejected rows, newest first; range filters on receivedAt."""
    context = context_of(info)
    first = page_size(first, context.settings.max_page_size)
    start, end = time_window(range_, context.now)
    position = decode_time_cursor(after, "quarantine")
    if position is not None and not isinstance(position[1], int):
        raise bad_input(f"after: {after!r} is not a cursor of this list", "after")
    kind_value = kind.value if kind else None
    only = readable_ids(principal_of(info))
    async with context.db.read() as conn:
        found = await quarantined_page(conn, kind_value, start, end, first, position, only)

    async def total() -> int:
        async with context.db.read() as conn:
            return await count_quarantined(conn, kind_value, start, end, only)

    items = [
        QuarantinedRow(
            id=strawberry.ID(str(row["id"])),
            kind=IngestKind(row["kind"]),
            received_at=row["received_at"],
            field=row["field"],
            message=row["message"],
            raw=row["raw"],
        )
        for row in found[:first]
    ]
    last = found[len(items) - 1] if items else None
    end_cursor = encode_cursor("quarantine", last["received_at"], last["id"]) if last else None
    return Page(items, len(found) > first, end_cursor, total)


async def stats(info: Info[Any, Any]) -> GatewayStats:
    """Exact counts of stored rows and known entities the caller may see."""
    only = readable_ids(principal_of(info))
    async with context_of(info).db.read() as conn:
        return GatewayStats(**await gateway_counts(conn, only))
