"""Leaf types of the product vertical: metrics, slices, funnels, events, inputs."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from schema.common import MeasureSet, ingest_row


@strawberry.enum
class ProductDimension(Enum):
    COUNTRY = "COUNTRY"
    DEVICE_TYPE = "DEVICE_TYPE"
    EVENT_TYPE = "EVENT_TYPE"
    SOURCE = "SOURCE"


@strawberry.input(
    description="Null or omitted lists do not filter; an empty list matches "
    'nothing; "" also matches a null value.'
)
class ProductEventFilter:
    countries: list[str] | None = None
    device_types: list[str] | None = None
    event_types: list[str] | None = None
    sources: list[str] | None = None


@ingest_row
@strawberry.input(description="A product usage or performance event (Tinybird product_events).")
class ProductEventInput:
    event_id: str
    timestamp: datetime
    product_id: str
    product_name: str | None = None
    event_type: str
    user_id: str | None = None
    session_id: str | None = None
    duration_ms: float | None = None
    error_code: str | None = strawberry.field(
        default=None, description="empty string and null both mean no error code"
    )
    page_load_time_ms: float | None = None
    api_latency_ms: float | None = None
    is_error: bool | None = strawberry.field(
        default=None, description="null: derived as (errorCode is non-empty)"
    )
    source: str | None = None
    device_type: str | None = None
    country: str | None = strawberry.field(
        default=None, description="ISO 3166-1 alpha-2 when known"
    )
    properties: JSON | None = None


@strawberry.type(
    description="Aggregates over the product events that match a range and "
    "filter. Only the selected fields are computed."
)
class ProductMetrics(MeasureSet):
    total_events: int
    error_count: int
    error_rate: float = strawberry.field(description="errorCount / totalEvents")
    unique_users: int = strawberry.field(description="distinct non-null userId")
    avg_page_load_time_ms: float | None
    p95_page_load_time_ms: float | None
    avg_api_latency_ms: float | None
    p95_api_latency_ms: float | None
    avg_duration_ms: float | None


@strawberry.type
class ProductSlice:
    value: str = strawberry.field(
        description="the dimension's value; events where it is null are grouped under the "
        "empty string"
    )
    metrics: ProductMetrics


@strawberry.type
class ProductPoint:
    bucket: datetime = strawberry.field(
        description="start of the bucket, truncated to the granularity in UTC"
    )
    metrics: ProductMetrics


@strawberry.type
class EngagementRow:
    event_type: str
    events: int
    unique_users: int
    events_per_user: float = strawberry.field(
        description="events / uniqueUsers, 0 when there are no users"
    )
    avg_duration_ms: float | None


@strawberry.type
class FunnelStep:
    event_type: str
    users: int = strawberry.field(
        description="users who completed this step and every step before it, in order"
    )
    conversion_from_previous: float
    conversion_from_start: float


@strawberry.type
class Funnel:
    steps: list[FunnelStep]
    overall_conversion: float = strawberry.field(
        description="users of the last step / users of the first"
    )


@strawberry.type
class ProductEvent:
    event_id: str
    timestamp: datetime
    event_type: str
    user_id: str | None
    session_id: str | None
    duration_ms: float | None
    error_code: str | None
    page_load_time_ms: float | None
    api_latency_ms: float | None
    is_error: bool
    source: str | None
    device_type: str | None
    country: str | None
    properties: JSON | None
