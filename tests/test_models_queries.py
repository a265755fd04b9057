"""Model queries: performance, timeseries, predictions, versions and the catalog."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from tests.factories import (
    MODEL_METRIC_FIELDS,
    RECORD_ACTUALS,
    approx_metrics,
    ingest_predictions,
    iso,
    prediction,
    regression_metrics,
)

PERFORMANCE = f"""
query($id: ID!, $version: String, $environment: String = "production", $range: TimeRange) {{
  model(id: $id) {{
    performance(version: $version, environment: $environment, range: $range) {{
      {MODEL_METRIC_FIELDS}
    }}
  }}
}}
"""


def mixed_predictions(now: datetime, count: int = 40, seed: int = 3, **fields) -> list[dict]:
    """Predictions in the 20 hours before now; some unlabeled, some with actual 0."""
    pick = random.Random(seed)
    rows = []
    for _ in range(count):
        actual = pick.choice([None, 0.0, round(pick.uniform(-50, 50), 3), pick.uniform(1, 90)])
        at = now - timedelta(minutes=pick.randrange(1, 20 * 60))
        rows.append(prediction(at, round(pick.uniform(-40, 60), 3), actual, **fields))
    return rows


def pairs(rows: list[dict]) -> list[tuple[float, float | None]]:
    return [(r["predictedValue"], r["actualValue"]) for r in rows]


async def performance(gql, now, **variables):
    data = await gql(PERFORMANCE, {"id": "eta", **variables}, now=now)
    return data["model"]["performance"]


async def test_performance_counts_all_predictions_and_errors_of_labeled_ones(gql, now):
    rows = mixed_predictions(now)
    elsewhere = mixed_predictions(now, 5, seed=9, environment="staging")
    too_old = [prediction(now - timedelta(hours=30), 1000.0, 0.0)]
    await ingest_predictions(gql, rows + elsewhere + too_old, now)
    assert await performance(gql, now) == approx_metrics(regression_metrics(pairs(rows)))
    everywhere = await performance(gql, now, environment=None)
    assert everywhere == approx_metrics(regression_metrics(pairs(rows + elsewhere)))


async def test_actuals_arriving_later_change_the_metrics(gql, now):
    rows = mixed_predictions(now, 20, actualValue=None)
    await ingest_predictions(gql, rows, now)
    before = await performance(gql, now)
    assert (before["labeledCount"], before["rmse"], before["avgActual"]) == (0, None, None)
    pick = random.Random(5)
    later = {r["predictionId"]: round(pick.uniform(-20, 20), 2) for r in rows[::3]}
    actuals = [{"predictionId": pid, "actualValue": value} for pid, value in later.items()]
    await gql(RECORD_ACTUALS, {"actuals": actuals}, now=now)
    for row in rows:
        row["actualValue"] = later.get(row["predictionId"])
    assert await performance(gql, now) == approx_metrics(regression_metrics(pairs(rows)))


async def test_version_without_labeled_rows_has_null_errors_and_zero_labeled(gql, now):
    v1 = mixed_predictions(now, 10, modelVersion="v1")
    v2 = [prediction(now - timedelta(hours=h), 3.0 * h, modelVersion="v2") for h in (1, 2, 4)]
    await ingest_predictions(gql, v1 + v2, now)
    assert await performance(gql, now, version="v1") == approx_metrics(
        regression_metrics(pairs(v1))
    )
    unlabeled = await performance(gql, now, version="v2")
    assert unlabeled == approx_metrics(regression_metrics(pairs(v2)))
    assert (unlabeled["labeledCount"], unlabeled["rmse"], unlabeled["mape"]) == (0, None, None)
    assert unlabeled["predictionCount"] == len(v2)


async def test_window_without_predictions_has_zero_counts_and_null_metrics(gql, now):
    await ingest_predictions(gql, mixed_predictions(now, 5), now)
    empty = {"from": iso(now - timedelta(days=9)), "to": iso(now - timedelta(days=8))}
    metrics = await performance(gql, now, range=empty)
    assert metrics == {
        "predictionCount": 0,
        "labeledCount": 0,
        "rmse": None,
        "mae": None,
        "mape": None,
        "bias": None,
        "avgPredicted": None,
        "avgActual": None,
    }


async def test_latest_is_the_version_with_the_newest_prediction_in_the_environment(gql, now):
    old = mixed_predictions(now - timedelta(hours=3), 8, seed=1, modelVersion="v1")
    new = [prediction(now - timedelta(hours=2), 5.0, 4.0, modelVersion="v2")]
    staging = [
        prediction(now - timedelta(minutes=5), 1.0, 1.0, modelVersion="v3", environment="staging")
    ]
    await ingest_predictions(gql, old + new + staging, now)
    assert await performance(gql, now, version="latest") == approx_metrics(
        regression_metrics(pairs(new))
    )
    staged = await performance(gql, now, version="latest", environment="staging")
    assert staged == approx_metrics(regression_metrics(pairs(staging)))
    # Seen from a clock before v2's prediction, v1 is the latest.
    earlier = now - timedelta(hours=2, minutes=30)
    window = {"from": iso(now - timedelta(days=1)), "to": iso(now)}
    seen_earlier = await performance(gql, earlier, version="latest", range=window)
    assert seen_earlier == approx_metrics(regression_metrics(pairs(old)))


async def test_latest_of_a_model_without_predictions_in_the_environment_counts_nothing(gql, now):
    await ingest_predictions(gql, [prediction(now - timedelta(hours=1), 1.0, 2.0)], now)
    metrics = await performance(gql, now, version="latest", environment="canary")
    assert (metrics["predictionCount"], metrics["rmse"]) == (0, None)


async def test_timeseries_has_one_point_per_hour_with_predictions(gql, now):
    hour = now.replace(minute=0, second=0) - timedelta(hours=5)
    rows = [
        prediction(hour + timedelta(minutes=m), float(m), float(m % 7) if m % 2 else None)
        for m in (1, 2, 3, 130, 131, 250)
    ]
    await ingest_predictions(gql, rows, now)
    doc = f"""{{ model(id: "eta") {{ timeseries(granularity: HOUR) {{
        bucket metrics {{ {MODEL_METRIC_FIELDS} }} }} }} }}"""
    points = (await gql(doc, now=now))["model"]["timeseries"]
    buckets: dict[datetime, list[dict]] = {}
    for row in rows:
        at = datetime.fromisoformat(row["timestamp"]).replace(minute=0, second=0)
        buckets.setdefault(at, []).append(row)
    assert [p["bucket"] for p in points] == [iso(b) for b in sorted(buckets)]
    for point, bucket in zip(points, sorted(buckets), strict=True):
        assert point["metrics"] == approx_metrics(regression_metrics(pairs(buckets[bucket])))


PREDICTIONS = """
query($version: String, $after: String) { model(id: "eta") {
  predictions(version: $version, first: 2, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { predictionId modelVersion error }
  }
} }
"""


async def test_predictions_are_newest_first_in_pages_with_total_count(gql, now):
    rows = [
        prediction(now - timedelta(minutes=m), 10.0, 4.0 if m % 2 else None, modelVersion=v)
        for m, v in ((5, "v1"), (1, "v2"), (3, "v1"), (4, "v2"), (2, "v1"))
    ]
    await ingest_predictions(gql, rows, now)
    newest_first = sorted(rows, key=lambda r: r["timestamp"], reverse=True)
    seen, after = [], None
    while True:
        data = await gql(PREDICTIONS, {"after": after}, now=now)
        page = data["model"]["predictions"]
        assert page["totalCount"] == len(rows)
        seen += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [n["predictionId"] for n in seen] == [r["predictionId"] for r in newest_first]
    assert [n["error"] for n in seen] == [
        None if r["actualValue"] is None else r["predictedValue"] - r["actualValue"]
        for r in newest_first
    ]
    v1 = (await gql(PREDICTIONS, {"version": "v1"}, now=now))["model"]["predictions"]
    assert v1["totalCount"] == 3
    assert {n["modelVersion"] for n in v1["nodes"]} == {"v1"}


async def test_models_are_listed_by_id_and_searched_case_insensitively(gql, now):
    ids = ["fraud-score", "eta", "Churn-Risk"]
    await ingest_predictions(
        gql, [prediction(now - timedelta(minutes=1), 1.0, modelId=i) for i in ids], now
    )
    doc = """query($search: String, $after: String) {
      models(search: $search, first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { id } } }"""
    first = (await gql(doc, now=now))["models"]
    assert [n["id"] for n in first["nodes"]] == sorted(ids)[:2]
    assert (first["totalCount"], first["pageInfo"]["hasNextPage"]) == (3, True)
    rest = (await gql(doc, {"after": first["pageInfo"]["endCursor"]}, now=now))["models"]
    assert [n["id"] for n in rest["nodes"]] == sorted(ids)[2:]
    found = (await gql(doc, {"search": "RISK"}, now=now))["models"]
    assert [n["id"] for n in found["nodes"]] == ["Churn-Risk"]


@pytest.mark.parametrize(
    ("field", "argument"),
    [
        (
            'performance(range: {from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z"})'
            " { rmse }",
            "range",
        ),
        ("predictions(first: 100000) { totalCount }", "first"),
        ('predictions(after: "not-a-cursor") { totalCount }', "after"),
    ],
)
async def test_bad_model_arguments_are_clear_errors(gql, now, field, argument):
    await ingest_predictions(gql, [prediction(now - timedelta(minutes=1), 1.0)], now)
    [error] = await gql.errors(f'{{ model(id: "eta") {{ {field} }} }}')
    assert error.extensions["code"] == "BAD_USER_INPUT"
    assert error.extensions["argument"] == argument
