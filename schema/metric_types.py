"""Leaf types of custom metrics: the metric type enum and the sample input."""

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
