"""Product fields: overview, breakdown, timeseries, errors, engagement, funnel, events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.engine import RowMapping
from strawberry.types import Info

from db import catalog, funnel
from db.facts.product_events import PRODUCT_EVENTS as FACT
from db.tables import products
from resolvers import aggregates
from resolvers.arguments import bounded, time_window
from resolvers.context import context_of
from resolvers.errors import bad_input
from resolvers.pages import Page, catalog_page, find_entity, rows_page
from schema.common import TimeRange
from schema.product_types import (
    EngagementRow,
    Funnel,
    FunnelStep,
    ProductEvent,
    ProductEventFilter,
)

PRODUCTS = catalog.Catalog(products, key="id", searchable=("id", "name"))
MAX_FUNNEL_STEPS = 20


async def engagement(
    info: Info[Any, Any],
    product_id: str,
    range_: TimeRange | None,
    filter_: ProductEventFilter | None,
) -> list[EngagementRow]:
    """One row per event type: a breakdown by EVENT_TYPE with three measures."""
    measures = frozenset({"total_events", "unique_users", "avg_duration_ms"})
    question = aggregates.question(info, FACT, range_, filter_, measures, group_by=("EVENT_TYPE",))
    groups = await context_of(info).loaders.aggregates.load((FACT, question, product_id))
    return [
        EngagementRow(
            event_type=g.key,
            events=g.values["total_events"],
            unique_users=g.values["unique_users"],
            events_per_user=(
                g.values["total_events"] / g.values["unique_users"]
                if g.values["unique_users"]
                else 0.0
            ),
            avg_duration_ms=g.values["avg_duration_ms"],
        )
        for g in groups
    ]


async def product_funnel(
    info: Info[Any, Any],
    product_id: str,
    steps: list[str],
    range_: TimeRange | None,
    within_seconds: int,
) -> Funnel:
    """The ordered funnel of the contract's Funnel type."""
    if not 1 <= len(steps) <= MAX_FUNNEL_STEPS:
        raise bad_input(
            f"steps must name 1 to {MAX_FUNNEL_STEPS} event types, got {len(steps)}", "steps"
        )
    bounded(within_seconds, 0, 366 * 86400, "withinSeconds")
    context = context_of(info)
    start, end = time_window(range_, context.now)
    question = funnel.FunnelQuestion(tuple(steps), start, end, timedelta(seconds=within_seconds))
    users = await context.loaders.load(funnel.funnel_users, question, product_id)
    first = users[0]
    return Funnel(
        steps=[
            FunnelStep(
                event_type=step,
                users=count,
                conversion_from_previous=1.0 if i == 0 else _ratio(count, users[i - 1]),
                conversion_from_start=_ratio(count, first),
            )
            for i, (step, count) in enumerate(zip(steps, users, strict=True))
        ],
        overall_conversion=_ratio(users[-1], first),
    )


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


async def events(
    info: Info[Any, Any],
    product_id: str,
    range_: TimeRange | None,
    filter_: ProductEventFilter | None,
    first: int,
    after: str | None,
) -> Page[ProductEvent]:
    """The product's events, newest first, in keyset pages."""
    question = aggregates.question(info, FACT, range_, filter_, frozenset())
    return await rows_page(
        context_of(info), FACT, "event", product_id, question, first, after, _event
    )


def _event(row: Any) -> ProductEvent:
    return ProductEvent(
        event_id=row["event_id"],
        timestamp=row["ts"],
        event_type=row["event_type"],
        user_id=row["user_id"],
        session_id=row["session_id"],
        duration_ms=row["duration_ms"],
        error_code=row["error_code"],
        page_load_time_ms=row["page_load_time_ms"],
        api_latency_ms=row["api_latency_ms"],
        is_error=row["is_error"],
        source=row["source"],
        device_type=row["device_type"],
        country=row["country"],
        properties=row["properties"],
    )


async def product_page(
    info: Info[Any, Any], search: str | None, first: int, after: str | None
) -> Page[RowMapping]:
    """Products ordered by id, optionally matching search in id or name."""
    return await catalog_page(context_of(info), PRODUCTS, "product", search, first, after)


async def find_product(info: Info[Any, Any], product_id: str) -> RowMapping | None:
    """The product's catalog row, or None when no event of it was ever stored."""
    found: RowMapping | None = await find_entity(context_of(info), PRODUCTS, product_id)
    return found
