"""ML model predictions, declared for the aggregate compiler.

error = predicted - actual; error measures average over labeled rows only,
because the error of an unlabeled row is null and SQL aggregates skip nulls.
"""

from __future__ import annotations

from sqlalchemy import func

from db.compiler import Fact, Measure
from db.rollups import (
    Rollup,
    count_part,
    grains,
    max_part,
    mean,
    part,
    present_part,
    root_mean,
    sum_part,
    values_part,
)
from db.tables import predictions as t

_error = t.c.predicted_value - t.c.actual_value
_predictions = func.count()
_relative_error = func.abs(_error) / func.abs(func.nullif(t.c.actual_value, 0))

# Every measure but the last is a sum over rows or over labeled rows, so a model's
# hours and days keep the sums, and a recorded actual takes back what its row held
# and adds what it holds now (db.rolled.taken_back).
_parts = {
    "predictions": count_part(),
    "labeled": present_part(t.c.actual_value),
    "squared_error_sum": sum_part(_error * _error),
    "absolute_error_sum": sum_part(func.abs(_error)),
    "error_sum": sum_part(_error),
    "relative_error_sum": sum_part(_relative_error),
    "relative_error_n": present_part(_relative_error),
    "predicted_sum": sum_part(t.c.predicted_value),
    "predicted_n": present_part(t.c.predicted_value),
    "actual_sum": sum_part(t.c.actual_value),
    "last_ts": max_part(t.c.ts),
    # Drift's PSI cuts the historical window at its exact deciles: it reads the values.
    "predicted_values": values_part(t.c.predicted_value),
}

ROLLUP = Rollup(
    # A model has a few environments and versions: their hours are kept too, so the
    # default question (environment "production") is answered from rollups.
    grains=grains("predictions", _parts, hourly_dimensions=True),
    parts=_parts,
    measures={
        "prediction_count": part("predictions"),
        "labeled_count": part("labeled"),
        "rmse": root_mean("squared_error_sum", "labeled"),
        "mae": mean("absolute_error_sum", "labeled"),
        "mape": mean("relative_error_sum", "relative_error_n"),
        "bias": mean("error_sum", "labeled"),
        "avg_predicted": mean("predicted_sum", "predicted_n"),
        "avg_actual": mean("actual_sum", "labeled"),
        "last_prediction_at": part("last_ts"),
    },
    rank="predictions",
)

PREDICTIONS = Fact(
    name="predictions",
    entity=t.c.model_id,
    time=t.c.ts,
    row_id=t.c.prediction_id,
    measures={
        "prediction_count": Measure(_predictions, 0),
        "labeled_count": Measure(func.count(t.c.actual_value), 0),
        "rmse": Measure(func.sqrt(func.avg(_error * _error))),
        "mae": Measure(func.avg(func.abs(_error))),
        "mape": Measure(func.avg(func.abs(_error) / func.abs(func.nullif(t.c.actual_value, 0)))),
        "bias": Measure(func.avg(_error)),
        "avg_predicted": Measure(func.avg(t.c.predicted_value)),
        "avg_actual": Measure(func.avg(t.c.actual_value)),
        # Not a ModelMetrics field: resolves version "latest" per model in one statement.
        "last_prediction_at": Measure(func.max(t.c.ts)),
    },
    dimensions={"VERSION": t.c.model_version, "ENVIRONMENT": t.c.environment},
    filters={"version": t.c.model_version, "environment": t.c.environment},
    rank=_predictions,
    rollup=ROLLUP,
)
