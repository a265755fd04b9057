"""Endpoint fields: stats, errors, breakdown, timeseries, latency histogram,
business impact, and the endpoint catalog and its configuration."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.engine import RowMapping
from strawberry.types import Info

from db import catalog
from db import endpoints as endpoint_sql
from db.facts.api_requests import API_REQUESTS as FACT
from db.ingest.fields import RowError, number
from db.tables import endpoints
from resolvers import aggregates
from resolvers.access import ADMIN, require
from resolvers.context import context_of
from resolvers.errors import GatewayError, bad_input
from resolvers.pages import Page, catalog_page, find_entity
from schema.common import TimeRange
from schema.endpoint_types import (
    ApiRequestFilter,
    BusinessImpact,
    EndpointConfigInput,
    LatencyBucket,
)

ENDPOINTS = catalog.Catalog(endpoints, key="name", searchable=("name",))
IMPACT_MEASURES = frozenset({"requests", "success_count", "unique_users"})


async def latency_histogram(
    info: Info[Any, Any],
    name: str,
    range_: TimeRange | None,
    filter_: ApiRequestFilter | None,
    bucket_ms: float,
) -> list[LatencyBucket]:
    """Requests by latency band [k*bucketMs, (k+1)*bucketMs), ascending."""
    if not bucket_ms > 0:
        raise bad_input(f"bucketMs must be above 0, got {bucket_ms}", "bucketMs")
    query = aggregates.question(info, FACT, range_, filter_, frozenset())
    question = endpoint_sql.HistogramQuestion(query, bucket_ms)
    bands = await context_of(info).loaders.load(endpoint_sql.latency_histograms, question, name)
    return [
        LatencyBucket(
            lower_ms=b.lower, upper_ms=b.upper, requests=b.requests, success_rate=b.success_rate
        )
        for b in bands
    ]


async def business_impact(
    info: Info[Any, Any], name: str, range_: TimeRange | None, config: RowMapping | None
) -> BusinessImpact:
    """The contract's BusinessImpact formulas over the range, from the endpoint's config."""
    question = aggregates.question(info, FACT, range_, None, IMPACT_MEASURES)
    totals, session_seconds = await asyncio.gather(
        aggregates.totals(info, FACT, name, question),
        context_of(info).loaders.load(endpoint_sql.avg_session_seconds, question, name),
    )
    order_value = config["avg_order_value"] if config else None
    unit_cost = config["cost_per_request"] if config else None
    revenue = _product(totals["success_count"], order_value)
    cost = _product(totals["requests"], unit_cost)
    engagement = _product(totals["unique_users"], session_seconds)
    blended = None if revenue is None or engagement is None else 0.6 * revenue + 0.4 * engagement
    return BusinessImpact(
        revenue_attribution=revenue,
        infrastructure_cost=cost,
        avg_session_seconds=session_seconds,
        user_engagement=engagement,
        score=_ratio(blended, cost),
        cost_efficiency=_ratio(revenue, cost),
        engagement_quality=_ratio(engagement, totals["requests"]),
    )


def _product(count: int, factor: float | None) -> float | None:
    return None if factor is None else count * factor


def _ratio(numerator: float | None, divisor: float | None) -> float | None:
    if numerator is None or divisor is None or divisor == 0:
        return None
    return numerator / divisor


async def configure_endpoint(info: Info[Any, Any], config: EndpointConfigInput) -> RowMapping:
    """Store an endpoint's configuration (creating the endpoint); its catalog row."""
    principal = require(info, ADMIN)
    if not principal.sees(config.name):
        raise GatewayError(f"this token may not configure endpoint {config.name!r}", "FORBIDDEN")
    if not config.name.strip():
        raise bad_input("input.name is required and must not be empty", "input")
    raw = {"avgOrderValue": config.avg_order_value, "costPerRequest": config.cost_per_request}
    try:
        values = {
            "avg_order_value": number(raw, "avgOrderValue", non_negative=True),
            "cost_per_request": number(raw, "costPerRequest", non_negative=True),
        }
    except RowError as error:
        raise bad_input(f"input.{error.message}", "input") from None
    values["revenue_critical"] = bool(config.revenue_critical)
    async with context_of(info).db.write() as conn:
        return await endpoint_sql.configure(conn, config.name, values)


async def endpoint_page(
    info: Info[Any, Any], search: str | None, first: int, after: str | None
) -> Page[RowMapping]:
    """Endpoints ordered by name, optionally matching search in the name."""
    return await catalog_page(context_of(info), ENDPOINTS, "endpoint", search, first, after)


async def find_endpoint(info: Info[Any, Any], name: str) -> RowMapping | None:
    """The endpoint's catalog row, or None when it was never ingested nor configured."""
    found: RowMapping | None = await find_entity(context_of(info), ENDPOINTS, name)
    return found
