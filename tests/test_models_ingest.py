"""ingestPredictions and recordActuals: idempotence, rejections, the quarantine."""

from __future__ import annotations

from datetime import timedelta

from tests.factories import (
    INGEST_PREDICTIONS,
    RECORD_ACTUALS,
    ingest_predictions,
    iso,
    prediction,
)

STORED = """
query($id: ID!) { model(id: $id) {
  id versions environments
  predictions(environment: null, range: {from: "2000-01-01T00:00:00Z"}) {
    nodes { predictionId actualValue error environment }
  }
} }
"""
# receivedAt is the server's clock, a little after the test's `now`.
QUARANTINE = """
query($kind: IngestKind) {
  quarantine(kind: $kind, range: {to: "2999-01-01T00:00:00Z", from: "2000-01-01T00:00:00Z"}) {
    totalCount nodes { field message raw }
  }
}
"""


async def test_resent_prediction_is_a_duplicate_and_the_first_write_wins(gql, now):
    first = prediction(now - timedelta(minutes=5), 10.0, 12.0)
    again = {**first, "predictedValue": 99.0}
    twice_in_batch = prediction(now - timedelta(minutes=4), 1.0)
    result = await ingest_predictions(gql, [first, twice_in_batch, twice_in_batch], now)
    assert result == {"accepted": 2, "duplicates": 1, "rejected": []}
    result = await ingest_predictions(gql, [again], now)
    assert result == {"accepted": 0, "duplicates": 1, "rejected": []}
    data = await gql(STORED, {"id": "eta"}, now=now)
    stored = {n["predictionId"]: n for n in data["model"]["predictions"]["nodes"]}
    assert stored[first["predictionId"]]["error"] == -2.0


async def test_predictions_register_the_model_its_versions_and_environments(gql, now):
    rows = [
        prediction(now - timedelta(hours=3), 1.0, modelVersion="v1"),
        prediction(now - timedelta(hours=1), 1.0, modelVersion="v2", environment="staging"),
        prediction(now - timedelta(hours=2), 1.0, modelVersion="v1"),
    ]
    await ingest_predictions(gql, rows, now)
    data = await gql(STORED, {"id": "eta"}, now=now)
    assert data["model"]["versions"] == ["v2", "v1"]
    assert data["model"]["environments"] == ["production", "staging"]
    assert {n["environment"] for n in data["model"]["predictions"]["nodes"]} == {
        "production",
        "staging",
    }


async def test_bad_predictions_are_rejected_by_field_and_quarantined(gql, now):
    rows = [
        prediction(now, 1.0, modelId=""),
        prediction(now, 1.0, modelVersion="  "),
        prediction(now + timedelta(minutes=10), 1.0),
        prediction(now, 1.0, predictionId=""),
        prediction(now, 2.0),
    ]
    data = await gql(INGEST_PREDICTIONS, {"predictions": rows}, now=now)
    result = data["ingestPredictions"]
    assert result["accepted"] == 1
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [
        (0, "modelId"),
        (1, "modelVersion"),
        (2, "timestamp"),
        (3, "predictionId"),
    ]
    quarantined = (await gql(QUARANTINE, {"kind": "PREDICTION"}, now=now))["quarantine"]
    assert quarantined["totalCount"] == 4
    assert {q["raw"]["modelVersion"] for q in quarantined["nodes"]} == {"v1", "  "}


async def test_recorded_actual_labels_a_stored_prediction(gql, now):
    row = prediction(now - timedelta(minutes=30), 7.5)
    await ingest_predictions(gql, [row], now)
    actuals = [{"predictionId": row["predictionId"], "actualValue": 5.0}]
    result = (await gql(RECORD_ACTUALS, {"actuals": actuals}, now=now))["recordActuals"]
    assert result == {"accepted": 1, "duplicates": 0, "rejected": []}
    data = await gql(STORED, {"id": "eta"}, now=now)
    [node] = data["model"]["predictions"]["nodes"]
    assert (node["actualValue"], node["error"]) == (5.0, 2.5)


async def test_equal_actual_is_a_duplicate_and_a_different_one_replaces_it(gql, now):
    labeled = prediction(now - timedelta(minutes=30), 7.0, 6.0)
    await ingest_predictions(gql, [labeled], now)
    pid = labeled["predictionId"]
    same = [{"predictionId": pid, "actualValue": 6.0}]
    result = (await gql(RECORD_ACTUALS, {"actuals": same}, now=now))["recordActuals"]
    assert result == {"accepted": 0, "duplicates": 1, "rejected": []}
    changed = [{"predictionId": pid, "actualValue": 4.0}]
    result = (await gql(RECORD_ACTUALS, {"actuals": changed}, now=now))["recordActuals"]
    assert result == {"accepted": 1, "duplicates": 0, "rejected": []}
    [node] = (await gql(STORED, {"id": "eta"}, now=now))["model"]["predictions"]["nodes"]
    assert node["actualValue"] == 4.0


async def test_actuals_in_one_batch_count_as_if_sent_one_by_one(gql, now):
    row = prediction(now - timedelta(minutes=30), 7.0)
    await ingest_predictions(gql, [row], now)
    pid = row["predictionId"]
    values = [3.0, 3.0, 8.0]
    actuals = [{"predictionId": pid, "actualValue": v} for v in values]
    result = (await gql(RECORD_ACTUALS, {"actuals": actuals}, now=now))["recordActuals"]
    assert result == {"accepted": 2, "duplicates": 1, "rejected": []}
    [node] = (await gql(STORED, {"id": "eta"}, now=now))["model"]["predictions"]["nodes"]
    assert node["actualValue"] == values[-1]


async def test_actual_for_an_unknown_prediction_is_rejected_and_quarantined(gql, now):
    row = prediction(now - timedelta(minutes=30), 7.0)
    await ingest_predictions(gql, [row], now)
    actuals = [
        {"predictionId": "never-predicted", "actualValue": 1.0},
        {"predictionId": row["predictionId"], "actualValue": 2.0},
        {"predictionId": " ", "actualValue": 1.0},
    ]
    result = (await gql(RECORD_ACTUALS, {"actuals": actuals}, now=now))["recordActuals"]
    assert result["accepted"] == 1
    assert result["duplicates"] == 0
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [
        (0, "predictionId"),
        (2, "predictionId"),
    ]
    assert "never-predicted" in result["rejected"][0]["message"]
    quarantined = (await gql(QUARANTINE, {"kind": "ACTUAL"}, now=now))["quarantine"]
    assert quarantined["totalCount"] == 2
    assert {q["raw"]["predictionId"] for q in quarantined["nodes"]} == {"never-predicted", " "}


async def test_unknown_model_is_null(gql, now):
    await ingest_predictions(gql, [prediction(now - timedelta(minutes=1), 1.0)], now)
    assert (await gql(STORED, {"id": "nope"}, now=now)) == {"model": None}


async def test_prediction_timestamp_without_offset_is_utc(gql, now):
    naive = (now - timedelta(minutes=10)).replace(tzinfo=None)
    row = prediction(now, 1.0, timestamp=naive.isoformat())
    await ingest_predictions(gql, [row], now)
    doc = '{ model(id: "eta") { predictions { nodes { timestamp } } } }'
    [node] = (await gql(doc, now=now))["model"]["predictions"]["nodes"]
    assert node["timestamp"] == iso(now - timedelta(minutes=10))
