"""The three model pipes of the Tinybird ML-model-monitoring project."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.pipes import params as p
from gateway.pipes.pipe import Params, Pipe, Row


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


def _limit_param(params: Params, ceiling: int) -> int | None:
    return p.positive_int(params, "limit", 100, ceiling)


MODEL_PIPES: dict[str, Pipe] = {
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
