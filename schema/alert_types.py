"""Leaf types of alerts: enums, inputs and the recorded state change."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from sqlalchemy.engine import RowMapping

from schema.targets import AlertTarget


@strawberry.enum
class AlertKind(Enum):
    THRESHOLD = strawberry.enum_value(
        "THRESHOLD", description="fires when the measure meets condition against threshold"
    )
    ANOMALY = strawberry.enum_value(
        "ANOMALY",
        description="fires when the measure is more than sensitivity standard deviations "
        "from the mean of the previous baselineWindows windows",
    )


@strawberry.enum
class Condition(Enum):
    GT = "GT"
    GTE = "GTE"
    LT = "LT"
    LTE = "LTE"


@strawberry.enum
class AlertState(Enum):
    OK = "OK"
    FIRING = "FIRING"
    NO_DATA = "NO_DATA"


@strawberry.input
class NotificationChannelInput:
    kind: str = strawberry.field(
        description="webhook is the built-in kind; the JSON payload is POSTed to url"
    )
    url: str


@strawberry.input
class AlertInput:
    name: str
    target: AlertTarget
    target_id: str = strawberry.field(
        description="product id, endpoint name, model id or metric name"
    )
    measure: str = strawberry.field(
        description="a field of the target's metrics type (errorRate, p95LatencyMs, rmse ...) "
        "or, for METRIC, an Aggregation name"
    )
    kind: AlertKind | None = AlertKind.THRESHOLD
    condition: Condition | None = Condition.GT
    threshold: float | None = None
    window_minutes: int | None = 5
    sensitivity: float | None = 3.0
    baseline_windows: int | None = 12
    channels: list[NotificationChannelInput] | None = strawberry.field(default_factory=list)
    enabled: bool | None = True


@strawberry.type
class AlertEvent:
    at: datetime
    state: AlertState
    value: float | None
    message: str
    alert_id: strawberry.ID = strawberry.field(description="the alert that changed state")

    @classmethod
    def of(cls, row: RowMapping) -> AlertEvent:
        """A state change from its stored row."""
        return cls(
            at=row["at"],
            state=AlertState(row["state"]),
            value=row["value"],
            message=row["message"],
            alert_id=strawberry.ID(str(row["alert_id"])),
        )
