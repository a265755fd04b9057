"""Leaf types of custom metrics: metric types, aggregations, samples, groups, points."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from schema.common import ingest_row


@strawberry.enum
class MetricType(Enum):
    COUNTER = "COUNTER"
    GAUGE = "GAUGE"
    HISTOGRAM = "HISTOGRAM"
    TIMER = "TIMER"
    AVERAGE = "AVERAGE"


@strawberry.enum(
    description="Percentiles are continuous; LAST is the value of the newest sample "
    "(of samples with the same timestamp, the one stored last)."
)
class Aggregation(Enum):
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    COUNT = "count"
    MEDIAN = "median"
    P95 = "p95"
    P99 = "p99"
    LAST = "last"


@ingest_row
@strawberry.input(description="One sample of a named metric (counter, gauge, timer ...).")
class MetricSampleInput:
    name: str
    type: MetricType
    value: float
    timestamp: datetime | None = strawberry.field(
        default=None, description="omitted: the time the gateway received it"
    )
    tags: JSON | None = None
    unit: str | None = None
    source: str | None = None


@strawberry.type
class MetricGroup:
    key: str = strawberry.field(
        description="group values joined by '_' in groupBy order (e.g. GET_/api/users); "
        "empty when not grouped"
    )
    tags: JSON = strawberry.field(
        description="the groupBy tag values as an object (a missing tag is the empty string)"
    )
    value: float | None
    count: int


@strawberry.type(description="only buckets that have samples, in time order")
class MetricPoint:
    bucket: datetime
    groups: list[MetricGroup]
