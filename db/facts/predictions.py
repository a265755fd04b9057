"""ML model predictions, declared for the aggregate compiler.

error = predicted - actual; error measures average over labeled rows only,
because the error of an unlabeled row is null and SQL aggregates skip nulls.
"""

from __future__ import annotations

from sqlalchemy import func

from db.compiler import Fact, Measure
from db.tables import predictions as t

_error = t.c.predicted_value - t.c.actual_value
_predictions = func.count()

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
)
