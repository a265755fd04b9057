"""Leaf types of the endpoint vertical: metrics, slices, histograms, impact, inputs."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from schema.common import MeasureSet, ingest_row


@strawberry.enum
class EndpointDimension(Enum):
    REGION = "REGION"
    DEVICE_TYPE = "DEVICE_TYPE"
    DOCUMENT_TYPE = "DOCUMENT_TYPE"
    STATUS_CODE = "STATUS_CODE"
    METHOD = "METHOD"


@strawberry.input(
    description="Null or omitted lists do not filter; an empty list matches "
    'nothing; "" also matches a null value.'
)
class ApiRequestFilter:
    regions: list[str] | None = None
    device_types: list[str] | None = None
    document_types: list[str] | None = None
    methods: list[str] | None = None
    status_codes: list[int] | None = None


@ingest_row
@strawberry.input(description="One served API request (an API log line).")
class ApiRequestInput:
    request_id: str
    timestamp: datetime
    endpoint: str = strawberry.field(description="the API's name or route, e.g. /api/payments")
    method: str | None = "GET"
    status_code: int
    latency_ms: float
    region: str | None = None
    device_type: str | None = None
    document_type: str | None = None
    error_reason: str | None = strawberry.field(
        default=None, description="why the request failed; ignored for successful requests"
    )
    user_id: str | None = None
    session_id: str | None = None


@strawberry.type(
    description="Aggregates over API requests. A request succeeds when "
    "200 <= statusCode < 400; every other request is an error. Only the "
    "selected fields are computed."
)
class EndpointMetrics(MeasureSet):
    requests: int
    success_count: int
    error_count: int
    success_rate: float = strawberry.field(
        description="successCount / requests (the request-to-success conversion rate)"
    )
    error_rate: float
    avg_latency_ms: float | None
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    p99_latency_ms: float | None
    max_latency_ms: float | None
    top_error_reason: str | None = strawberry.field(
        description="most frequent errorReason among failed requests; ties broken by name"
    )
    unique_users: int


@strawberry.type
class EndpointSlice:
    value: str
    metrics: EndpointMetrics


@strawberry.type
class EndpointPoint:
    bucket: datetime
    metrics: EndpointMetrics


@strawberry.type
class LatencyBucket:
    lower_ms: float = strawberry.field(description="inclusive lower bound, a multiple of bucketMs")
    upper_ms: float
    requests: int
    success_rate: float


@strawberry.input(
    description="An endpoint's whole configuration: a field left out or null is "
    "unknown (revenueCritical: false)."
)
class EndpointConfigInput:
    name: str
    avg_order_value: float | None = strawberry.field(
        default=None, description="revenue that one successful request brings, on average"
    )
    cost_per_request: float | None = strawberry.field(
        default=None, description="compute and storage cost of one request"
    )
    revenue_critical: bool | None = None


@strawberry.type
class EndpointConfig:
    avg_order_value: float | None
    cost_per_request: float | None
    revenue_critical: bool


@strawberry.type(
    description="Business impact of an endpoint over a range, with the contract's "
    "formulas; a ratio whose divisor is zero or unknown is null."
)
class BusinessImpact:
    revenue_attribution: float | None
    infrastructure_cost: float | None
    avg_session_seconds: float | None
    user_engagement: float | None
    score: float | None
    cost_efficiency: float | None
    engagement_quality: float | None
