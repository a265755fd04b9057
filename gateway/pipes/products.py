"""The six product pipes of the Tinybird product-performance project."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from gateway.pipes import params as p
from gateway.pipes.pipe import Params, Pipe, Row

# Breakdowns are read whole: a pipe answers every group, like its SQL did.
ALL_GROUPS = 1_000


def _range(params: Params, now: datetime, ceiling: int) -> dict[str, Any]:
    return {"range": p.time_range(params)}


def _slices(column: str) -> Callable[[Any, Params], list[Row]]:
    def rows(product: Any, params: Params) -> list[Row]:
        return [
            {
                "product_id": product["id"],
                column: s["value"],
                "total_events": s["metrics"]["totalEvents"],
                "error_count": s["metrics"]["errorCount"],
                "error_rate": s["metrics"]["errorRate"],
                "avg_page_load_time_ms": s["metrics"]["avgPageLoadTimeMs"],
                "avg_api_latency_ms": s["metrics"]["avgApiLatencyMs"],
                "unique_users": s["metrics"]["uniqueUsers"],
            }
            for s in product["breakdown"]
        ]

    return rows


_SLICE_METRICS = "totalEvents errorCount errorRate avgPageLoadTimeMs avgApiLatencyMs uniqueUsers"


def _slice_columns(column: str) -> tuple[tuple[str, str], ...]:
    return (
        ("product_id", "String"),
        (column, "String"),
        ("total_events", "UInt64"),
        ("error_count", "UInt64"),
        ("error_rate", "Float64"),
        ("avg_page_load_time_ms", "Float64"),
        ("avg_api_latency_ms", "Float64"),
        ("unique_users", "UInt64"),
    )


def _overview(product: Any, params: Params) -> list[Row]:
    m = product["overview"]
    if m["totalEvents"] == 0:
        return []
    return [
        {
            "product_id": product["id"],
            "product_name": product["name"],
            "total_events": m["totalEvents"],
            "error_count": m["errorCount"],
            "error_rate": m["errorRate"],
            "avg_page_load_time_ms": m["avgPageLoadTimeMs"],
            "p95_page_load_time_ms": m["p95PageLoadTimeMs"],
            "avg_api_latency_ms": m["avgApiLatencyMs"],
            "unique_users": m["uniqueUsers"],
        }
    ]


def _top_errors_read(params: Params, now: datetime, ceiling: int) -> dict[str, Any]:
    return {"range": p.time_range(params), "limit": p.positive_int(params, "limit", 10, ceiling)}


def _geo_read(params: Params, now: datetime, ceiling: int) -> dict[str, Any]:
    country = p.text(params, "country")
    return {
        "range": p.time_range(params),
        "filter": {"countries": [country]} if country is not None else None,
    }


def _granularity_read(params: Params, now: datetime, ceiling: int) -> dict[str, Any]:
    granularity = p.choice(params, "granularity", "hour", ("hour", "day"))
    return {"range": p.time_range(params), "granularity": granularity.upper()}


def _top_errors(product: Any, params: Params) -> list[Row]:
    return [
        {
            "product_id": product["id"],
            "error_code": e["error"],
            "error_count": e["count"],
            "share": e["share"],
            "last_seen": p.clickhouse_time(e["lastSeen"]),
        }
        for e in product["topErrors"]
    ]


def _error_rate(product: Any, params: Params) -> list[Row]:
    return [
        {
            "product_id": product["id"],
            "time": p.clickhouse_time(point["bucket"]),
            "total_events": point["metrics"]["totalEvents"],
            "error_count": point["metrics"]["errorCount"],
            "error_rate": point["metrics"]["errorRate"],
        }
        for point in product["timeseries"]
    ]


def _engagement(product: Any, params: Params) -> list[Row]:
    return [
        {
            "product_id": product["id"],
            "event_type": e["eventType"],
            "event_count": e["events"],
            "unique_users": e["uniqueUsers"],
            "events_per_user": e["eventsPerUser"],
        }
        for e in product["engagement"]
    ]


PRODUCT_PIPES: dict[str, Pipe] = {
    "product_performance_overview": Pipe(
        "product",
        "$range: TimeRange",
        "name overview(range: $range) { totalEvents errorCount errorRate avgPageLoadTimeMs"
        " p95PageLoadTimeMs avgApiLatencyMs uniqueUsers }",
        (
            ("product_id", "String"),
            ("product_name", "String"),
            ("total_events", "UInt64"),
            ("error_count", "UInt64"),
            ("error_rate", "Float64"),
            ("avg_page_load_time_ms", "Float64"),
            ("p95_page_load_time_ms", "Float64"),
            ("avg_api_latency_ms", "Float64"),
            ("unique_users", "UInt64"),
        ),
        (("total_events", True), ("product_id", False)),
        _range,
        _overview,
    ),
    "top_errors": Pipe(
        "product",
        "$range: TimeRange, $limit: Int!",
        "topErrors(range: $range, limit: $limit) { error count share lastSeen }",
        (
            ("product_id", "String"),
            ("error_code", "String"),
            ("error_count", "UInt64"),
            ("share", "Float64"),
            ("last_seen", "DateTime"),
        ),
        (("product_id", False), ("error_count", True), ("error_code", False)),
        _top_errors_read,
        _top_errors,
    ),
    "geographic_performance": Pipe(
        "product",
        "$range: TimeRange, $filter: ProductEventFilter",
        f"breakdown(by: COUNTRY, range: $range, filter: $filter, limit: {ALL_GROUPS})"
        f" {{ value metrics {{ {_SLICE_METRICS} }} }}",
        _slice_columns("country"),
        (("product_id", False), ("total_events", True), ("country", False)),
        _geo_read,
        _slices("country"),
    ),
    "performance_by_device": Pipe(
        "product",
        "$range: TimeRange",
        f"breakdown(by: DEVICE_TYPE, range: $range, limit: {ALL_GROUPS})"
        f" {{ value metrics {{ {_SLICE_METRICS} }} }}",
        _slice_columns("device_type"),
        (("product_id", False), ("total_events", True), ("device_type", False)),
        _range,
        _slices("device_type"),
    ),
    "error_rate_over_time": Pipe(
        "product",
        "$range: TimeRange, $granularity: Granularity!",
        "timeseries(granularity: $granularity, range: $range)"
        " { bucket metrics { totalEvents errorCount errorRate } }",
        (
            ("product_id", "String"),
            ("time", "DateTime"),
            ("total_events", "UInt64"),
            ("error_count", "UInt64"),
            ("error_rate", "Float64"),
        ),
        (("product_id", False), ("time", False)),
        _granularity_read,
        _error_rate,
    ),
    "user_engagement": Pipe(
        "product",
        "$range: TimeRange",
        "engagement(range: $range) { eventType events uniqueUsers eventsPerUser }",
        (
            ("product_id", "String"),
            ("event_type", "String"),
            ("event_count", "UInt64"),
            ("unique_users", "UInt64"),
            ("events_per_user", "Float64"),
        ),
        (("product_id", False), ("event_count", True), ("event_type", False)),
        _range,
        _engagement,
    ),
}
