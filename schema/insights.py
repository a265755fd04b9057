"""Insights fields: an entity's own (Product.insights, Endpoint.insights), and the
root field across every product and endpoint."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import insights
from schema.common import TimeRange, or_default
from schema.insight_types import Insight


def insights_field(subject: insights.Subject, entity: str) -> Any:
    """The insights field of a node whose id is its attribute `entity`."""

    async def resolve(
        self: Any,
        info: Info[Any, Any],
        range: TimeRange | None = None,
        baseline: TimeRange | None = None,
        min_change: float | None = 0.2,
        min_rows: int | None = 100,
    ) -> list[Insight]:
        asked = insights.ask(info, range, baseline, min_change, min_rows)
        return await insights.entity_insights(info, subject, getattr(self, entity), asked)

    return strawberry.field(
        resolver=resolve,
        description="what changed against a baseline window, and where (see Insight)",
    )


@strawberry.type
class InsightQuery:
    @strawberry.field(
        description="insights of every product and endpoint the caller may see, in Insight "
        "order across entities, then target, then targetId"
    )
    async def insights(
        self,
        info: Info[Any, Any],
        range: TimeRange | None = None,
        baseline: TimeRange | None = None,
        min_change: float | None = 0.2,
        min_rows: int | None = 100,
        first: int | None = 20,
    ) -> list[Insight]:
        asked = insights.ask(info, range, baseline, min_change, min_rows)
        return await insights.all_insights(info, asked, or_default(first, 20))
