"""Served API requests, declared for the aggregate compiler.

A request succeeds when 200 <= statusCode < 400 (contract); every other
request is an error, and its errorReason is its error label.
"""

from __future__ import annotations

from sqlalchemy import and_, func, not_

from db.compiler import CODE_POINT, ErrorLabels, Fact, Measure, distinct_count, percentile, rate
from db.rollups import (
    Rollup,
    count_part,
    grains,
    max_part,
    mean,
    part,
    present_part,
    quantile,
    ratio,
    sketch_part,
    sum_part,
)
from db.tables import api_requests as t

SUCCEEDED = and_(t.c.status_code >= 200, t.c.status_code < 400)
FAILED = not_(SUCCEEDED)

_requests = func.count()
_successes = func.count().filter(SUCCEEDED)
_errors = func.count().filter(FAILED)

_parts = {
    "requests": count_part(),
    "successes": count_part(SUCCEEDED),
    "errors": count_part(FAILED),
    "latency_sum": sum_part(t.c.latency_ms),
    "latency_n": present_part(t.c.latency_ms),
    "latency_max": max_part(t.c.latency_ms),
    "latency_sketch": sketch_part(t.c.latency_ms),
}

# Every measure but top_error_reason and unique_users, which have no exact merge.
ROLLUP = Rollup(
    grains=grains("api_requests", _parts),
    parts=_parts,
    measures={
        "requests": part("requests"),
        "success_count": part("successes"),
        "error_count": part("errors"),
        "success_rate": ratio("successes", "requests"),
        "error_rate": ratio("errors", "requests"),
        "avg_latency_ms": mean("latency_sum", "latency_n"),
        "p50_latency_ms": quantile("latency_sketch", 0.5),
        "p95_latency_ms": quantile("latency_sketch", 0.95),
        "p99_latency_ms": quantile("latency_sketch", 0.99),
        "max_latency_ms": part("latency_max"),
    },
    rank="requests",
)

API_REQUESTS = Fact(
    name="api_requests",
    entity=t.c.endpoint,
    time=t.c.ts,
    row_id=t.c.request_id,
    measures={
        "requests": Measure(_requests, 0),
        "success_count": Measure(_successes, 0),
        "error_count": Measure(_errors, 0),
        "success_rate": Measure(rate(_successes, _requests), 0.0),
        "error_rate": Measure(rate(_errors, _requests), 0.0),
        "avg_latency_ms": Measure(func.avg(t.c.latency_ms)),
        "p50_latency_ms": Measure(percentile(0.5, t.c.latency_ms)),
        "p95_latency_ms": Measure(percentile(0.95, t.c.latency_ms)),
        "p99_latency_ms": Measure(percentile(0.99, t.c.latency_ms)),
        "max_latency_ms": Measure(func.max(t.c.latency_ms)),
        # mode() skips nulls and, on a tie, keeps the first value in its ORDER BY.
        "top_error_reason": Measure(
            func.mode().within_group(t.c.error_reason.collate(CODE_POINT)).filter(FAILED)
        ),
        "unique_users": Measure(distinct_count(t.c.user_id), 0),
    },
    dimensions={
        "REGION": t.c.region,
        "DEVICE_TYPE": t.c.device_type,
        "DOCUMENT_TYPE": t.c.document_type,
        "STATUS_CODE": t.c.status_code,
        "METHOD": t.c.method,
    },
    filters={
        "regions": t.c.region,
        "deviceTypes": t.c.device_type,
        "documentTypes": t.c.document_type,
        "methods": t.c.method,
        "statusCodes": t.c.status_code,
    },
    rank=_requests,
    errors=ErrorLabels(is_error=FAILED, label=t.c.error_reason),
    rollup=ROLLUP,
)
