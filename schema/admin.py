"""Gateway-wide root fields: the quarantine and the stats."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import admin as resolve
from schema.common import (
    GatewayStats,
    IngestKind,
    QuarantineConnection,
    TimeRange,
    connection,
    or_default,
)


@strawberry.type
class AdminQuery:
    @strawberry.field(description="newest first; range filters on receivedAt")
    async def quarantine(
        self,
        info: Info[Any, Any],
        kind: IngestKind | None = None,
        range: TimeRange | None = None,
        first: int | None = 100,
        after: str | None = None,
    ) -> QuarantineConnection:
        page = await resolve.quarantine(info, kind, range, or_default(first, 100), after)
        return connection(QuarantineConnection, page)

    @strawberry.field
    async def stats(self, info: Info[Any, Any]) -> GatewayStats:
        return await resolve.stats(info)
