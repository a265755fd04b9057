"""The Endpoint node, its connection, and the endpoint root fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.engine import RowMapping
from strawberry.types import Info

from db.facts.api_requests import API_REQUESTS
from db.ingest.api_requests import API_REQUEST
from resolvers import endpoints as resolve
from resolvers import insights as explained
from resolvers.aggregates import FactKind
from resolvers.ingest import ingest
from schema.common import Connection, IngestResult, TimeRange, connection, or_default
from schema.endpoint_types import (
    ApiRequestFilter,
    ApiRequestInput,
    BusinessImpact,
    EndpointConfig,
    EndpointConfigInput,
    EndpointDimension,
    EndpointMetrics,
    EndpointPoint,
    EndpointSlice,
    LatencyBucket,
)
from schema.fact_fields import breakdown_field, metrics_field, timeseries_field, top_errors_field
from schema.insights import insights_field

ENDPOINT = FactKind(
    API_REQUESTS,
    metrics=EndpointMetrics,
    slice=EndpointSlice,
    point=EndpointPoint,
    dimension=EndpointDimension,
    filter=ApiRequestFilter,
    entity="name",
)


@strawberry.type
class Endpoint:
    name: str = strawberry.field(description="the endpoint name as ingested")
    first_seen: datetime | None
    last_seen: datetime | None
    row: strawberry.Private[RowMapping]

    @classmethod
    def of(cls, row: RowMapping) -> Endpoint:
        """An endpoint node from its catalog row."""
        return cls(
            name=row["name"], first_seen=row["first_seen"], last_seen=row["last_seen"], row=row
        )

    @strawberry.field(description="null until configureEndpoint has set it")
    def config(self) -> EndpointConfig | None:
        if self.row["configured_at"] is None:
            return None
        return EndpointConfig(
            avg_order_value=self.row["avg_order_value"],
            cost_per_request=self.row["cost_per_request"],
            revenue_critical=self.row["revenue_critical"],
        )

    stats = metrics_field(ENDPOINT)
    errors = top_errors_field(
        ENDPOINT,
        "non-empty error reasons of failed requests, most frequent first, "
        "ties by reason; share is over all failed requests",
    )
    breakdown = breakdown_field(ENDPOINT, "ordered by requests descending, then value")
    timeseries = timeseries_field(ENDPOINT, "one point per bucket that has requests, in time order")

    @strawberry.field(
        description="requests by latency band [k*bucketMs, (k+1)*bucketMs), bands with "
        "requests only, ascending"
    )
    async def latency_histogram(
        self,
        info: Info[Any, Any],
        range: TimeRange | None = None,
        filter: ApiRequestFilter | None = None,
        bucket_ms: float | None = 100,
    ) -> list[LatencyBucket]:
        width = 100.0 if bucket_ms is None else bucket_ms
        return await resolve.latency_histogram(info, self.name, range, filter, width)

    @strawberry.field
    async def business_impact(
        self, info: Info[Any, Any], range: TimeRange | None = None
    ) -> BusinessImpact:
        return await resolve.business_impact(info, self.name, range, self.row)

    insights = insights_field(explained.ENDPOINT, "name")


@strawberry.type
class EndpointConnection(Connection[Endpoint]):
    pass


@strawberry.type
class EndpointQuery:
    @strawberry.field(description="ordered by name")
    async def endpoints(
        self,
        info: Info[Any, Any],
        search: str | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> EndpointConnection:
        page = await resolve.endpoint_page(info, search, or_default(first, 50), after)
        return connection(EndpointConnection, page, [Endpoint.of(row) for row in page.items])

    @strawberry.field
    async def endpoint(self, info: Info[Any, Any], name: str) -> Endpoint | None:
        row = await resolve.find_endpoint(info, name)
        return Endpoint.of(row) if row is not None else None


@strawberry.type
class EndpointMutation:
    @strawberry.mutation
    async def ingest_api_requests(
        self, info: Info[Any, Any], requests: list[ApiRequestInput]
    ) -> IngestResult:
        return await ingest(info, API_REQUEST, requests, "requests")

    @strawberry.mutation(description="sets the whole configuration; creates the endpoint if new")
    async def configure_endpoint(
        self, info: Info[Any, Any], input: EndpointConfigInput
    ) -> Endpoint:
        return Endpoint.of(await resolve.configure_endpoint(info, input))
