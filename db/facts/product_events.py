"""Product usage and performance events, declared for the aggregate compiler."""

from __future__ import annotations

from sqlalchemy import func

from db.compiler import ErrorLabels, Fact, Measure, distinct_count, percentile, rate
from db.rollups import (
    Rollup,
    count_part,
    distinct,
    grains,
    mean,
    part,
    present_part,
    quantile,
    ratio,
    set_part,
    sketch_part,
    sum_part,
)
from db.tables import product_events as t

_events = func.count()
_errors = func.count().filter(t.c.is_error)

_parts = {
    "events": count_part(),
    "errors": count_part(t.c.is_error),
    "page_load_sum": sum_part(t.c.page_load_time_ms),
    "page_load_n": present_part(t.c.page_load_time_ms),
    "page_load_sketch": sketch_part(t.c.page_load_time_ms),
    "api_latency_sum": sum_part(t.c.api_latency_ms),
    "api_latency_n": present_part(t.c.api_latency_ms),
    "api_latency_sketch": sketch_part(t.c.api_latency_ms),
    "duration_sum": sum_part(t.c.duration_ms),
    "duration_n": present_part(t.c.duration_ms),
    "users": set_part(t.c.user_id),
}

ROLLUP = Rollup(
    grains=grains("product_events", _parts),
    parts=_parts,
    measures={
        "total_events": part("events"),
        "error_count": part("errors"),
        "error_rate": ratio("errors", "events"),
        "avg_page_load_time_ms": mean("page_load_sum", "page_load_n"),
        "p95_page_load_time_ms": quantile("page_load_sketch", 0.95),
        "avg_api_latency_ms": mean("api_latency_sum", "api_latency_n"),
        "p95_api_latency_ms": quantile("api_latency_sketch", 0.95),
        "avg_duration_ms": mean("duration_sum", "duration_n"),
        "unique_users": distinct("users"),
    },
    rank="events",
)

PRODUCT_EVENTS = Fact(
    name="product_events",
    entity=t.c.product_id,
    time=t.c.ts,
    row_id=t.c.event_id,
    measures={
        "total_events": Measure(_events, 0),
        "error_count": Measure(_errors, 0),
        "error_rate": Measure(rate(_errors, _events), 0.0),
        "unique_users": Measure(distinct_count(t.c.user_id), 0),
        "avg_page_load_time_ms": Measure(func.avg(t.c.page_load_time_ms)),
        "p95_page_load_time_ms": Measure(percentile(0.95, t.c.page_load_time_ms)),
        "avg_api_latency_ms": Measure(func.avg(t.c.api_latency_ms)),
        "p95_api_latency_ms": Measure(percentile(0.95, t.c.api_latency_ms)),
        "avg_duration_ms": Measure(func.avg(t.c.duration_ms)),
    },
    dimensions={
        "COUNTRY": t.c.country,
        "DEVICE_TYPE": t.c.device_type,
        "EVENT_TYPE": t.c.event_type,
        "SOURCE": t.c.source,
    },
    filters={
        "countries": t.c.country,
        "deviceTypes": t.c.device_type,
        "eventTypes": t.c.event_type,
        "sources": t.c.source,
    },
    rank=_events,
    errors=ErrorLabels(is_error=t.c.is_error, label=t.c.error_code),
    rollup=ROLLUP,
)
