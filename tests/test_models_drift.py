"""Drift: recent window against the historical one, PSI over historical deciles."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import text

from db.models import deciles
from tests.factories import (
    approx_metrics,
    ingest_predictions,
    population_stability,
    prediction,
    regression_metrics,
)

DRIFT = """
query($recent: Int, $historical: Int, $threshold: Float, $version: String) {
  model(id: "eta") {
    drift(recentWindowHours: $recent, historicalWindowHours: $historical,
          threshold: $threshold, version: $version) {
      recent { predictionCount labeledCount rmse mae bias }
      historical { predictionCount labeledCount rmse mae bias }
      rmseChange maeChange predictionPsi isDrifting
    }
  }
}
"""


def window_rows(now, hours: tuple[float, float], values: list[tuple[float, float | None]], **f):
    """Predictions spread over [now - hours[0], now - hours[1]), one per value pair."""
    span = (hours[0] - hours[1]) * 3600
    return [
        prediction(now - timedelta(hours=hours[0], seconds=-span * i / len(values)), p, a, **f)
        for i, (p, a) in enumerate(values)
    ]


def change(recent, historical):
    return (recent - historical) / historical


def expected_drift(historical, recent, threshold=0.2):
    h, r = regression_metrics(historical), regression_metrics(recent)
    rmse_change = change(r["rmse"], h["rmse"])
    psi = population_stability([p for p, _ in historical], [p for p, _ in recent])
    keys = ("predictionCount", "labeledCount", "rmse", "mae", "bias")
    return {
        "recent": approx_metrics({k: r[k] for k in keys}),
        "historical": approx_metrics({k: h[k] for k in keys}),
        "rmseChange": pytest.approx(rmse_change),
        "maeChange": pytest.approx(change(r["mae"], h["mae"])),
        "predictionPsi": pytest.approx(psi),
        "isDrifting": rmse_change > threshold or psi > 0.2,
    }


def noisy(pick: random.Random, count: int, shift: float, noise: float):
    values = []
    for _ in range(count):
        actual = pick.uniform(10, 100)
        predicted = actual + shift + pick.gauss(0, noise)
        values.append((round(predicted, 3), None if pick.random() < 0.2 else round(actual, 3)))
    return values


async def drift(gql, now, **variables):
    return (await gql(DRIFT, variables, now=now))["model"]["drift"]


async def test_drift_compares_the_recent_window_with_the_history_before_it(gql, now):
    pick = random.Random(11)
    historical = noisy(pick, 120, 0.0, 3.0)
    recent = noisy(pick, 40, 15.0, 6.0)
    rows = window_rows(now, (168, 6), historical) + window_rows(now, (6, 0), recent)
    ignored = [
        prediction(now - timedelta(hours=200), 500.0, 1.0),
        prediction(now - timedelta(hours=1), 500.0, 1.0, environment="staging"),
    ]
    await ingest_predictions(gql, rows + ignored, now)
    report = await drift(gql, now)
    assert report == expected_drift(historical, recent)
    assert report["isDrifting"] is True


async def test_stable_model_is_not_drifting(gql, now):
    history = noisy(random.Random(2), 50, 0.0, 2.0)
    rows = window_rows(now, (168, 6), history * 3) + window_rows(now, (6, 0), history)
    await ingest_predictions(gql, rows, now)
    report = await drift(gql, now)
    assert report == expected_drift(history * 3, history)
    assert report["predictionPsi"] == pytest.approx(0.0, abs=1e-12)
    assert report["isDrifting"] is False


async def test_rmse_change_drifts_only_beyond_the_threshold(gql, now):
    historical = [(10.0 + e, 10.0) for e in (1.0, -1.0)] * 10
    recent = [(10.0 + e, 10.0) for e in (1.3, -1.3)] * 2
    rows = window_rows(now, (48, 2), historical) + window_rows(now, (2, 0), recent)
    await ingest_predictions(gql, rows, now)
    loose = await drift(gql, now, recent=2, historical=48, threshold=0.5)
    assert loose["rmseChange"] == pytest.approx(0.3)
    assert loose == expected_drift(historical, recent, threshold=0.5)
    strict = await drift(gql, now, recent=2, historical=48, threshold=0.25)
    assert strict["isDrifting"] is (strict["predictionPsi"] > 0.2 or 0.3 > 0.25)
    assert strict["isDrifting"] is True


async def test_psi_bins_are_closed_on_the_right_at_the_historical_deciles(gql, now):
    historical = [(float(v), None) for v in range(11)]  # deciles fall exactly on 1..9
    recent = [(float(v), None) for v in (1, 1, 1, 2, 2, 9, 10, 10)]
    rows = window_rows(now, (30, 6), historical) + window_rows(now, (6, 0), recent)
    await ingest_predictions(gql, rows, now)
    report = await drift(gql, now, historical=30)
    expected = population_stability([p for p, _ in historical], [p for p, _ in recent])
    assert report["predictionPsi"] == pytest.approx(expected)
    assert (report["rmseChange"], report["recent"]["rmse"]) == (None, None)


async def test_drift_without_recent_predictions_has_no_psi_and_is_not_drifting(gql, now):
    history = noisy(random.Random(4), 30, 0.0, 1.0)
    await ingest_predictions(gql, window_rows(now, (100, 10), history), now)
    report = await drift(gql, now)
    assert report["recent"]["predictionCount"] == 0
    assert report["historical"] == approx_metrics(
        {k: regression_metrics(history)[k] for k in report["historical"]}
    )
    assert (report["rmseChange"], report["maeChange"], report["predictionPsi"]) == (
        None,
        None,
        None,
    )
    assert report["isDrifting"] is False


async def test_drift_of_a_named_version_ignores_the_others(gql, now):
    pick = random.Random(8)
    v1_history, v1_recent = noisy(pick, 40, 0.0, 2.0), noisy(pick, 10, 0.0, 2.0)
    rows = window_rows(now, (168, 6), v1_history) + window_rows(now, (6, 0), v1_recent)
    v2 = window_rows(now, (6, 0), noisy(pick, 10, 50.0, 9.0), modelVersion="v2")
    await ingest_predictions(gql, rows + v2, now)
    assert await drift(gql, now, version="v1") == expected_drift(v1_history, v1_recent)


@pytest.mark.parametrize(
    ("arguments", "argument"),
    [
        ("recentWindowHours: 6, historicalWindowHours: 6", "historicalWindowHours"),
        ("recentWindowHours: 0", "recentWindowHours"),
        ("historicalWindowHours: 100000", "historicalWindowHours"),
    ],
)
async def test_bad_drift_windows_are_clear_errors(gql, now, arguments, argument):
    await ingest_predictions(gql, [prediction(now - timedelta(minutes=1), 1.0)], now)
    [error] = await gql.errors(f'{{ model(id: "eta") {{ drift({arguments}) {{ isDrifting }} }} }}')
    assert error.extensions == {"code": "BAD_USER_INPUT", "argument": argument}


async def test_the_deciles_are_percentile_conts_to_the_last_bit(db):
    """The PSI's cuts are computed beside the database; a value equal to a cut must land
    in the bin the contract's SQL gives it, so the cuts must equal percentile_cont's."""
    pick = random.Random(5)
    samples = [[pick.choice([0.0, 1.5, -2.25])] for _ in range(3)]
    for size in (2, 3, 7, 10, 11, 101, 997, 2_000):
        samples.append([pick.uniform(-1e6, 1e6) for _ in range(size)])
        samples.append([round(pick.lognormvariate(3, 2), pick.randrange(4)) for _ in range(size)])
    fractions = [round(0.1 * i, 1) for i in range(1, 10)]
    statement = text(
        "SELECT percentile_cont(CAST(:fractions AS float8[])) WITHIN GROUP (ORDER BY v)"
        " FROM unnest(CAST(:values AS float8[])) AS v"
    )
    async with db.read() as conn:
        for values in samples:
            expected = await conn.scalar(statement, {"fractions": fractions, "values": values})
            assert deciles(np.array(values)) == expected, len(values)
