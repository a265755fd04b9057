"""The nine Tinybird pipes as stored GraphQL selections and the rows they make.

Each pipe selects fields of a product or a model (the runner wraps the
selection in one document that reads one entity or pages through all the
caller may see) and turns one entity's answer into rows with the columns of
../shared/contract/pipes.md, in snake_case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.pipes import params as p

Row = dict[str, Any]
Params = Mapping[str, str]
# Breakdowns and limits are read whole: a pipe answers every group, like its SQL did.
ALL_GROUPS = 1_000


@dataclass(frozen=True)
class Pipe:
    """One pipe: what it asks of each entity and how the answer becomes rows."""

    entity: str
    variables: str
    selection: str
    columns: tuple[tuple[str, str], ...]
    order: tuple[tuple[str, bool], ...]
    read: Callable[[Params, datetime, int], dict[str, Any]]
    rows: Callable[[Any, Params], list[Row]]
    limit: Callable[[Params, int], int | None] = lambda params, ceiling: None


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


def _model_read(params: Params, now: datetime, ceiling: int) -> dict[str, Any]:
    hours = p.positive_int(params, "time_window", 24, 24 * 366)
    return {
        "version": p.text(params, "model_version", "latest"),
        "environment": p.text(params, "environment", "production"),
        "range": p.hours_before(now, hours),
    }


def _model_performance(model: Any, params: Params) -> list[Row]:
    m, newest = model["performance"], model["newest"]["nodes"]
    if m["predictionCount"] == 0:
        return []
    version = p.text(params, "model_version", "latest")
    return [
        {
            "model_id": model["id"],
            "model_version": newest[0]["modelVersion"] if version == "latest" else version,
            "environment": p.text(params, "environment", "production"),
            "prediction_count": m["predictionCount"],
            "labeled_count": m["labeledCount"],
            "rmse": m["rmse"],
            "mae": m["mae"],
            "mape": m["mape"],
            "bias": m["bias"],
        }
    ]


def _drift_read(params: Params, now: datetime, ceiling: int) -> dict[str, Any]:
    recent = p.positive_int(params, "recent_window_hours", 6, 24 * 366)
    historical = p.positive_int(params, "historical_window_hours", 168, 24 * 366 * 10)
    if historical <= recent:
        raise p.RestError(
            f"historical_window_hours ({historical}) must be above recent_window_hours ({recent})"
        )
    return {
        "environment": p.text(params, "environment", "production"),
        "recent": recent,
        "historical": historical,
    }


def _drift(model: Any, params: Params) -> list[Row]:
    d = model["drift"]
    if d["recent"]["predictionCount"] + d["historical"]["predictionCount"] == 0:
        return []
    return [
        {
            "model_id": model["id"],
            "environment": p.text(params, "environment", "production"),
            "recent_rmse": d["recent"]["rmse"],
            "historical_rmse": d["historical"]["rmse"],
            "rmse_change": d["rmseChange"],
            "recent_mae": d["recent"]["mae"],
            "historical_mae": d["historical"]["mae"],
            "mae_change": d["maeChange"],
            "prediction_psi": d["predictionPsi"],
            "is_drifting": int(d["isDrifting"]),
        }
    ]


def _predictions_read(params: Params, now: datetime, ceiling: int) -> dict[str, Any]:
    return {
        "version": p.text(params, "model_version", "latest"),
        "environment": p.text(params, "environment", "production"),
        "range": p.time_range(params),
        "limit": p.positive_int(params, "limit", 100, ceiling),
    }


def _predictions(model: Any, params: Params) -> list[Row]:
    return [
        {
            "prediction_id": n["predictionId"],
            "timestamp": p.clickhouse_time(n["timestamp"]),
            "model_id": model["id"],
            "model_version": n["modelVersion"],
            "environment": n["environment"],
            "predicted_value": n["predictedValue"],
            "actual_value": n["actualValue"],
            "error": n["error"],
        }
        for n in model["predictions"]["nodes"]
    ]


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


def _limit_param(params: Params, ceiling: int) -> int | None:
    return p.positive_int(params, "limit", 100, ceiling)


PIPES: dict[str, Pipe] = {
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
    "model_performance_metrics": Pipe(
        "model",
        "$version: String, $environment: String!, $range: TimeRange",
        "performance(version: $version, environment: $environment, range: $range)"
        " { predictionCount labeledCount rmse mae mape bias }"
        " newest: predictions(version: $version, environment: $environment, first: 1)"
        " { nodes { modelVersion } }",
        (
            ("model_id", "String"),
            ("model_version", "String"),
            ("environment", "String"),
            ("prediction_count", "UInt64"),
            ("labeled_count", "UInt64"),
            ("rmse", "Float64"),
            ("mae", "Float64"),
            ("mape", "Float64"),
            ("bias", "Float64"),
        ),
        (("model_id", False),),
        _model_read,
        _model_performance,
    ),
    "model_drift_detection": Pipe(
        "model",
        "$environment: String!, $recent: Int!, $historical: Int!",
        "drift(environment: $environment, recentWindowHours: $recent,"
        " historicalWindowHours: $historical) { recent { predictionCount rmse mae }"
        " historical { predictionCount rmse mae } rmseChange maeChange predictionPsi isDrifting }",
        (
            ("model_id", "String"),
            ("environment", "String"),
            ("recent_rmse", "Float64"),
            ("historical_rmse", "Float64"),
            ("rmse_change", "Float64"),
            ("recent_mae", "Float64"),
            ("historical_mae", "Float64"),
            ("mae_change", "Float64"),
            ("prediction_psi", "Float64"),
            ("is_drifting", "UInt8"),
        ),
        (("model_id", False),),
        _drift_read,
        _drift,
    ),
    "prediction_details": Pipe(
        "model",
        "$version: String, $environment: String!, $range: TimeRange, $limit: Int!",
        "predictions(version: $version, environment: $environment, range: $range,"
        " first: $limit) { nodes { predictionId timestamp modelVersion environment"
        " predictedValue actualValue error } }",
        (
            ("prediction_id", "String"),
            ("timestamp", "DateTime"),
            ("model_id", "String"),
            ("model_version", "String"),
            ("environment", "String"),
            ("predicted_value", "Float64"),
            ("actual_value", "Float64"),
            ("error", "Float64"),
        ),
        (("timestamp", True), ("prediction_id", False)),
        _predictions_read,
        _predictions,
        _limit_param,
    ),
}
