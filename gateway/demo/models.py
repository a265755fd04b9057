"""Demo predictions: two models, two versions each, ten days; one drifts at the end."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from db.engine import Database
from db.ingest.predictions import PREDICTION, record_actuals
from db.ingest.shape import RowContext


@dataclass(frozen=True)
class DemoModel:
    """How a demo model's truth and errors behave, and whether it drifts lately."""

    versions: tuple[str, str]
    base: float
    spread: float
    noise: tuple[float, float]  # error spread of the old and the new version
    drift_hours: float = 0.0


MODELS = {
    "delivery-eta": DemoModel(("2.3.0", "2.4.0"), 35.0, 8.0, (4.0, 3.0), drift_hours=4.0),
    "demand-forecast": DemoModel(("v1", "v2"), 120.0, 25.0, (9.0, 7.0)),
}
DAYS = 10
PREDICTIONS_PER_MODEL = 6_000
NEW_VERSION_DAYS = 4  # the second version serves the last four days
UNLABELED_HOURS = 1  # ground truth of the last hour has not arrived yet
LATE_LABEL_HOURS = 3  # ground truth of the hours before that arrives via recordActuals


def _prediction(
    rng: random.Random, model: DemoModel, age: timedelta
) -> tuple[str, float, float, str]:
    newer = age < timedelta(days=NEW_VERSION_DAYS)
    actual = rng.gauss(model.base, model.spread)
    predicted = actual + rng.gauss(0, model.noise[newer])
    if age < timedelta(hours=model.drift_hours):
        # The world moved on and the model follows only half way.
        actual *= 1.6
        predicted *= 1.3
    environment = "staging" if newer and rng.random() < 0.1 else "production"
    return model.versions[newer], round(predicted, 2), round(max(actual, 0.5), 2), environment


def generate(now: datetime, seed: int = 11) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Deterministic PredictionInput rows for one day's demo, and the actuals sent later."""
    rng = random.Random(seed)
    day = now.date().isoformat()
    rows: list[dict[str, Any]] = []
    actuals: list[dict[str, Any]] = []
    for model_id, model in MODELS.items():
        for n in range(PREDICTIONS_PER_MODEL):
            age = timedelta(seconds=rng.uniform(0, DAYS * 86400))
            version, predicted, actual, environment = _prediction(rng, model, age)
            prediction_id = f"demo-{day}-{model_id}-{n}"
            late = age < timedelta(hours=LATE_LABEL_HOURS)
            rows.append(
                {
                    "predictionId": prediction_id,
                    "timestamp": now - age,
                    "modelId": model_id,
                    "modelVersion": version,
                    "environment": environment,
                    "features": {"region": rng.choice(["north", "south", "east", "west"])},
                    "predictedValue": predicted,
                    "actualValue": None if late else actual,
                }
            )
            if late and age >= timedelta(hours=UNLABELED_HOURS):
                actuals.append({"predictionId": prediction_id, "actualValue": actual})
    return rows, actuals


async def load(db: Database, now: datetime) -> str:
    """Store the demo predictions, then the ground truth that arrived late."""
    from gateway.demo import describe, ingest_all

    rows, actuals = generate(now)
    outcome = await ingest_all(db, PREDICTION, rows, now)
    labeled = await record_actuals(db, actuals, RowContext(now, timedelta(minutes=5)))
    return "; ".join(
        [
            describe(f"predictions ({len(MODELS)} models, {DAYS} days)", outcome),
            describe("late actuals", labeled),
        ]
    )
