"""Leaf types of the model vertical: regression metrics, drift, predictions, inputs."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from schema.common import MeasureSet, ingest_row


@ingest_row
@strawberry.input(description="One ML model prediction, with its ground truth when already known.")
class PredictionInput:
    prediction_id: str
    timestamp: datetime
    model_id: str
    model_version: str
    environment: str | None = "production"
    features: JSON | None = None
    predicted_value: float
    actual_value: float | None = None


@ingest_row
@strawberry.input(description="Ground truth that arrives after the prediction.")
class ActualInput:
    prediction_id: str
    actual_value: float


@strawberry.type(
    description="Regression metrics over predictions that match; error = predicted - "
    "actual, computed over labeled predictions (actualValue not null) only. Only the "
    "selected fields are computed."
)
class ModelMetrics(MeasureSet):
    prediction_count: int = strawberry.field(description="all matching predictions, labeled or not")
    labeled_count: int
    rmse: float | None
    mae: float | None
    mape: float | None = strawberry.field(
        description="mean of |error| / |actual| over labeled rows with actual != 0"
    )
    bias: float | None = strawberry.field(
        description="mean error (positive: the model over-predicts)"
    )
    avg_predicted: float | None = strawberry.field(description="over all matching predictions")
    avg_actual: float | None = strawberry.field(description="over labeled predictions")


@strawberry.type
class ModelPoint:
    bucket: datetime = strawberry.field(
        description="start of the bucket, truncated to the granularity in UTC"
    )
    metrics: ModelMetrics


@strawberry.type(
    description="Drift: the recent window [now - recentWindowHours, now) against the "
    "historical window [now - historicalWindowHours, now - recentWindowHours). "
    "predictionPsi cuts 10 bins at the historical deciles and floors each share at "
    "0.0001; it is null when either window has no predictions."
)
class DriftReport:
    recent: ModelMetrics
    historical: ModelMetrics
    rmse_change: float | None = strawberry.field(
        description="(recent.rmse - historical.rmse) / historical.rmse"
    )
    mae_change: float | None
    prediction_psi: float | None
    is_drifting: bool = strawberry.field(
        description="rmseChange > threshold or predictionPsi > 0.2"
    )


@strawberry.type
class Prediction:
    prediction_id: str
    timestamp: datetime
    model_version: str
    environment: str
    features: JSON | None
    predicted_value: float
    actual_value: float | None
    error: float | None = strawberry.field(
        description="predictedValue - actualValue, null when unlabeled"
    )
