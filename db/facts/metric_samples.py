"""Custom metric samples, declared for the aggregate compiler.

The entity is the metric's name. Dimensions are tag keys, resolved at query
time (``tags->>'key'``); the tag filter is JSONB containment, which the GIN
index on ``tags`` answers. Measures are named after the aggregations.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from db.compiler import Fact, FilterValues, Measure, Predicate, percentile
from db.tables import metric_samples as t

TAGS = "tags"
_samples = func.count()


def _tag(key: str) -> ColumnElement[Any]:
    value: ColumnElement[Any] = t.c.tags[key].astext
    return value


def _contains(values: FilterValues) -> ColumnElement[bool]:
    """Samples whose tags hold every given (key, value) pair."""
    return t.c.tags.contains(dict(values))


# The newest sample's value; samples stamped alike are told apart by storage order
# (the later stored wins).
_last = func.array_agg(aggregate_order_by(t.c.value, t.c.ts.desc(), t.c.id.desc()))[1]

METRIC_SAMPLES = Fact(
    name="metric_samples",
    entity=t.c.name,
    time=t.c.ts,
    row_id=t.c.id,
    measures={
        "sum": Measure(func.sum(t.c.value)),
        "avg": Measure(func.avg(t.c.value)),
        "min": Measure(func.min(t.c.value)),
        "max": Measure(func.max(t.c.value)),
        "count": Measure(_samples, 0),
        "median": Measure(percentile(0.5, t.c.value)),
        "p95": Measure(percentile(0.95, t.c.value)),
        "p99": Measure(percentile(0.99, t.c.value)),
        "last": Measure(_last),
    },
    dimensions={},
    filters={TAGS: Predicate(_contains)},
    rank=_samples,
    dynamic_dimension=_tag,
)
