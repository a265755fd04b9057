"""The Subscription root: live metrics and alert state changes over graphql-transport-ws."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.types import Info

from db.facts.api_requests import API_REQUESTS
from db.facts.product_events import PRODUCT_EVENTS
from resolvers import live
from schema.alert_types import AlertEvent
from schema.common import or_default
from schema.endpoint_types import ApiRequestFilter, EndpointMetrics
from schema.product_types import ProductEventFilter, ProductMetrics


@strawberry.type(description="Over graphql-transport-ws at the same path as queries.")
class Subscription:
    @strawberry.subscription(
        description="the product's metrics over the last windowMinutes, sent at once and "
        "again after each ingest that touches the product (at most once a second)"
    )
    async def product_metrics(
        self,
        info: Info[Any, Any],
        product_id: strawberry.ID,
        window_minutes: int | None = 5,
        filter: ProductEventFilter | None = None,
    ) -> AsyncGenerator[ProductMetrics, None]:
        updates = live.metrics_updates(
            info, PRODUCT_EVENTS, "PRODUCT_EVENT", product_id, or_default(window_minutes, 5), filter
        )
        async for values in updates:
            yield ProductMetrics.of(values)

    @strawberry.subscription(description="likewise for an endpoint")
    async def endpoint_metrics(
        self,
        info: Info[Any, Any],
        name: str,
        window_minutes: int | None = 5,
        filter: ApiRequestFilter | None = None,
    ) -> AsyncGenerator[EndpointMetrics, None]:
        updates = live.metrics_updates(
            info, API_REQUESTS, "API_REQUEST", name, or_default(window_minutes, 5), filter
        )
        async for values in updates:
            yield EndpointMetrics.of(values)

    @strawberry.subscription(description="each alert state change, for one alert or all")
    async def alert_events(
        self, info: Info[Any, Any], alert_id: strawberry.ID | None = None
    ) -> AsyncGenerator[AlertEvent, None]:
        async for row in live.alert_event_updates(info, alert_id):
            yield AlertEvent.of(row)
