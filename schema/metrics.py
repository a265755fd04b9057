"""Custom metrics: the Metric node, its connection, metric queries and recordMetrics."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from db.ingest.metric_samples import METRIC_SAMPLE
from db.metrics import MetricInfo
from resolvers import metrics as resolve
from resolvers.ingest import ingest
from schema.common import Connection, Granularity, IngestResult, TimeRange, connection, or_default
from schema.metric_types import (
    Aggregation,
    MetricGroup,
    MetricPoint,
    MetricSampleInput,
    MetricType,
)


@strawberry.type
class Metric:
    name: str
    type: MetricType = strawberry.field(description="the type of its newest sample")
    unit: str | None = strawberry.field(description="the unit of its newest sample that has one")

    @classmethod
    def of(cls, found: MetricInfo) -> Metric:
        """A metric node from its catalog entry."""
        return cls(name=found.name, type=MetricType(found.type), unit=found.unit)

    @strawberry.field(description="every tag key of its samples, in code-point order")
    async def tag_keys(self, info: Info[Any, Any]) -> list[str]:
        return await resolve.tag_keys(info, self.name)

    @strawberry.field(
        description="tags: only samples whose tags contain every given key/value; "
        "ordered by value descending"
    )
    async def aggregate(
        self,
        info: Info[Any, Any],
        aggregation: Aggregation,
        range: TimeRange | None = None,
        tags: JSON | None = None,
        group_by: list[str] | None = None,
    ) -> list[MetricGroup]:
        ask = resolve.MetricAsk(aggregation, range, tags, group_by)
        return await resolve.aggregate(info, self.name, ask)

    @strawberry.field(description="buckets that have samples, in time order")
    async def series(
        self,
        info: Info[Any, Any],
        aggregation: Aggregation,
        granularity: Granularity,
        range: TimeRange | None = None,
        tags: JSON | None = None,
        group_by: list[str] | None = None,
    ) -> list[MetricPoint]:
        ask = resolve.MetricAsk(aggregation, range, tags, group_by)
        return await resolve.series(info, self.name, ask, granularity)


@strawberry.type
class MetricConnection(Connection[Metric]):
    pass


@strawberry.type
class MetricQuery:
    @strawberry.field(description="ordered by name")
    async def metrics(
        self,
        info: Info[Any, Any],
        search: str | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> MetricConnection:
        page = await resolve.metric_page(info, search, or_default(first, 50), after)
        return connection(MetricConnection, page, [Metric.of(m) for m in page.items])

    @strawberry.field
    async def metric(self, info: Info[Any, Any], name: str) -> Metric | None:
        found = await resolve.find_metric(info, name)
        return Metric.of(found) if found is not None else None


@strawberry.type
class MetricMutation:
    @strawberry.mutation(
        description="samples have no id, so every valid sample is stored (nothing is a duplicate)"
    )
    async def record_metrics(
        self, info: Info[Any, Any], samples: list[MetricSampleInput]
    ) -> IngestResult:
        return await ingest(info, METRIC_SAMPLE, samples, "samples")
