"""Leaf types of insights: what changed against a baseline window, and where.

The contract's insights section defines the windows, thresholds, order and
contribution formulas; resolvers/insights.py computes them.
"""

from __future__ import annotations

from enum import Enum

import strawberry

from schema.targets import AlertTarget


@strawberry.enum
class InsightDirection(Enum):
    REGRESSION = "REGRESSION"
    IMPROVEMENT = "IMPROVEMENT"


@strawberry.enum
class Severity(Enum):
    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


@strawberry.type(
    description="One slice (a dimension's value) and its part in a change. Dimensions are "
    "the names of the target's Dimension enum; a null value is the empty string."
)
class InsightCause:
    dimension: str
    value: str
    current: float | None = strawberry.field(
        description="the slice's own measure in the current window; null when the slice has "
        "no rows there (or, for a percentile, no values)"
    )
    baseline: float | None = strawberry.field(
        description="the slice's own measure in the baseline window; null when the slice has "
        "no rows there (or, for a percentile, no values)"
    )
    share: float = strawberry.field(
        description="the slice's rows in the current window / all rows of the current window"
    )
    contribution: float = strawberry.field(
        description="errorRate: (errors in the slice now / rows now - errors in the slice then "
        "/ rows then) / (current - baseline), so one dimension's contributions sum to 1. "
        "A percentile: share * (slice current - slice baseline) / (current - baseline), where "
        "a slice without a baseline value uses the entity's baseline; not additive."
    )


@strawberry.type(
    description="What changed for a product or an endpoint between a baseline window and "
    "the current one, and which slices explain it (see the contract's insights section)."
)
class Insight:
    target: AlertTarget = strawberry.field(description="PRODUCT or ENDPOINT")
    target_id: str = strawberry.field(description="the product id or endpoint name")
    measure: str = strawberry.field(description="a field name of the target's metrics type")
    direction: InsightDirection
    severity: Severity = strawberry.field(
        description="CRITICAL when |change| >= 1, WARNING when >= 0.5, else INFO; "
        "an IMPROVEMENT is always INFO"
    )
    current: float = strawberry.field(
        description="the measure over the whole entity in the current window"
    )
    baseline: float = strawberry.field(
        description="the measure over the whole entity in the baseline window"
    )
    change: float | None = strawberry.field(
        description="current / baseline - 1; null when baseline is 0"
    )
    causes: list[InsightCause] = strawberry.field(
        description="slices that explain the change, at most 3, by contribution descending, "
        "then dimension, then value; only contribution > 0"
    )
    message: str = strawberry.field(
        description="one plain sentence, e.g. what rose, how much, and where"
    )
    recommendation: str = strawberry.field(description="a concrete next step in plain words")
