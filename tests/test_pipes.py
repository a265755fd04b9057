"""Tinybird-compatible pipes: each answers as the GraphQL schema does, in pipe shape."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.pipes import PIPES
from tests.factories import (
    ADMIN_SECRET,
    expected_product_metrics,
    ingest_predictions,
    ingest_product_events,
    prediction,
    product_events_mix,
    regression_metrics,
)


def ch_time(value: str) -> str:
    """An ISO DateTime as ClickHouse JSON writes it."""
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
async def products(gql, now) -> dict[str, list[dict[str, Any]]]:
    """Two products with varied events in the last 20 hours."""
    rows = {
        "shop": product_events_mix(now, 80, seed=3, productId="shop", productName="Shop"),
        "blog": product_events_mix(now, 40, seed=5, productId="blog", productName="Blog"),
    }
    await ingest_product_events(gql, rows["shop"] + rows["blog"], now)
    return rows


@pytest.fixture
async def predictions(gql, now) -> list[dict[str, Any]]:
    """Two models: 'eta' with v1 then a newer v2, 'price' with one version."""
    rows = [
        prediction(now - timedelta(hours=h, minutes=m), 10.0 + m, 9.0 + (h % 3), modelVersion=v)
        for h, v in ((30, "v1"), (20, "v1"), (3, "v2"), (1, "v2"))
        for m in (1, 7, 13)
    ]
    rows += [prediction(now - timedelta(hours=2), 5.0, None, modelId="price")]
    await ingest_predictions(gql, rows, now)
    return rows


async def pipe(client, name: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"/v0/pipes/{name}.json", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [m["name"] for m in body["meta"]] == [c for c, _ in PIPES[name].columns]
    assert body["rows"] == len(body["data"])
    assert set(body["statistics"]) == {"elapsed", "rows_read", "bytes_read"}
    return body


async def test_product_overview_pipe_matches_rows_and_graphql(client, gql, products):
    body = await pipe(client, "product_performance_overview")
    assert [r["product_id"] for r in body["data"]] == ["shop", "blog"]  # total_events desc
    for row in body["data"]:
        expected = expected_product_metrics(products[row["product_id"]])
        assert row["total_events"] == expected["totalEvents"]
        assert row["error_count"] == expected["errorCount"]
        assert row["unique_users"] == expected["uniqueUsers"]
        # Percentiles may come from the rollups' sketches: within the documented 1%.
        assert row["p95_page_load_time_ms"] == pytest.approx(
            expected["p95PageLoadTimeMs"], rel=0.01
        )
    answer = await gql('{ product(id: "blog") { name overview { errorRate avgApiLatencyMs } } }')
    blog = body["data"][1]
    assert blog["product_name"] == answer["product"]["name"] == "Blog"
    assert blog["error_rate"] == pytest.approx(answer["product"]["overview"]["errorRate"])
    assert blog["avg_api_latency_ms"] == pytest.approx(
        answer["product"]["overview"]["avgApiLatencyMs"]
    )


async def test_geographic_pipe_counts_each_country_and_filters_one(client, gql, products):
    body = await pipe(client, "geographic_performance", product_id="shop")
    counted = Counter(r.get("country") or "" for r in products["shop"])
    assert {r["country"]: r["total_events"] for r in body["data"]} == counted
    assert [r["total_events"] for r in body["data"]] == sorted(counted.values(), reverse=True)
    only = await pipe(client, "geographic_performance", product_id="shop", country="de")
    assert [(r["country"], r["total_events"]) for r in only["data"]] == [("de", counted["de"])]


async def test_device_pipe_matches_graphql_breakdown(client, gql, products):
    body = await pipe(client, "performance_by_device")
    answer = await gql(
        "{ products { nodes { id breakdown(by: DEVICE_TYPE)"
        " { value metrics { totalEvents errorRate uniqueUsers } } } } }"
    )
    expected = [
        (p["id"], s["value"], s["metrics"]["totalEvents"], s["metrics"]["uniqueUsers"])
        for p in sorted(answer["products"]["nodes"], key=lambda p: p["id"])
        for s in p["breakdown"]
    ]
    got = [
        (r["product_id"], r["device_type"], r["total_events"], r["unique_users"])
        for r in body["data"]
    ]
    assert got == expected


async def test_top_errors_pipe_matches_graphql_and_limit(client, gql, products):
    body = await pipe(client, "top_errors", product_id="shop", limit="2")
    answer = await gql('{ product(id: "shop") { topErrors(limit: 2) { error count share } } }')
    assert [(r["error_code"], r["error_count"], r["share"]) for r in body["data"]] == [
        (e["error"], e["count"], pytest.approx(e["share"])) for e in answer["product"]["topErrors"]
    ]


async def test_error_rate_pipe_buckets_by_day_like_graphql(client, gql, products):
    body = await pipe(client, "error_rate_over_time", product_id="blog", granularity="day")
    answer = await gql(
        '{ product(id: "blog") { timeseries(granularity: DAY)'
        " { bucket metrics { totalEvents errorCount } } } }"
    )
    assert [(r["time"], r["total_events"], r["error_count"]) for r in body["data"]] == [
        (ch_time(p["bucket"]), p["metrics"]["totalEvents"], p["metrics"]["errorCount"])
        for p in answer["product"]["timeseries"]
    ]
    assert sum(r["total_events"] for r in body["data"]) == len(products["blog"])


async def test_engagement_pipe_counts_events_per_type(client, products):
    body = await pipe(client, "user_engagement", product_id="shop")
    counted = Counter(r["eventType"] for r in products["shop"])
    assert {r["event_type"]: r["event_count"] for r in body["data"]} == counted
    for row in body["data"]:
        users = {
            r["userId"]
            for r in products["shop"]
            if r["eventType"] == row["event_type"] and r.get("userId")
        }
        assert row["unique_users"] == len(users)


async def test_model_performance_pipe_uses_latest_version_in_window(client, predictions):
    body = await pipe(client, "model_performance_metrics", model_id="eta")
    window = datetime.now(UTC) - timedelta(hours=24)
    pairs = [
        (r["predictedValue"], r["actualValue"])
        for r in predictions
        if r["modelId"] == "eta"
        and r["modelVersion"] == "v2"
        and datetime.fromisoformat(r["timestamp"]) >= window
    ]
    expected = regression_metrics(pairs)
    [row] = body["data"]
    assert (row["model_id"], row["model_version"], row["environment"]) == (
        "eta",
        "v2",
        "production",
    )
    assert row["prediction_count"] == expected["predictionCount"]
    assert row["rmse"] == pytest.approx(expected["rmse"])
    assert row["bias"] == pytest.approx(expected["bias"])


async def test_drift_pipe_matches_graphql_drift(client, gql, predictions):
    body = await pipe(client, "model_drift_detection", recent_window_hours="4")
    answer = await gql(
        '{ model(id: "eta") { drift(recentWindowHours: 4)'
        " { recent { rmse } historical { rmse } rmseChange predictionPsi isDrifting } } }"
    )
    drift = answer["model"]["drift"]
    eta = next(r for r in body["data"] if r["model_id"] == "eta")
    assert eta["recent_rmse"] == pytest.approx(drift["recent"]["rmse"])
    assert eta["historical_rmse"] == pytest.approx(drift["historical"]["rmse"])
    assert eta["prediction_psi"] == pytest.approx(drift["predictionPsi"])
    assert eta["is_drifting"] == int(drift["isDrifting"])


async def test_prediction_details_are_newest_first_and_limited(client, predictions):
    body = await pipe(client, "prediction_details", model_version="v2", limit="4")
    v2 = sorted(
        (r for r in predictions if r["modelVersion"] == "v2" and r["modelId"] == "eta"),
        key=lambda r: r["timestamp"],
        reverse=True,
    )
    assert [r["prediction_id"] for r in body["data"]] == [r["predictionId"] for r in v2[:4]]
    first = body["data"][0]
    assert first["error"] == pytest.approx(v2[0]["predictedValue"] - v2[0]["actualValue"])
    assert first["timestamp"] == ch_time(v2[0]["timestamp"])


async def test_pipe_accepts_token_parameter_and_refuses_none(client, products):
    query = {"token": ADMIN_SECRET, "product_id": "shop"}
    bare = await client.get(
        "/v0/pipes/top_errors.json", params=query, headers={"Authorization": ""}
    )
    assert bare.status_code == 200
    refused = await client.get(
        "/v0/pipes/top_errors.json", params={"token": "wrong"}, headers={"Authorization": ""}
    )
    assert refused.status_code == 401
    assert "error" in refused.json()


@pytest.mark.parametrize(
    ("name", "params", "named"),
    [
        ("top_errors", {"limit": "many"}, "limit"),
        ("top_errors", {"start_date": "yesterday"}, "start_date"),
        ("error_rate_over_time", {"granularity": "week"}, "granularity"),
        ("model_drift_detection", {"recent_window_hours": "200"}, "historical_window_hours"),
    ],
)
async def test_malformed_parameter_is_a_400_naming_it(client, db, name, params, named):
    response = await client.get(f"/v0/pipes/{name}.json", params=params)
    assert response.status_code == 400
    assert named in response.json()["error"]


async def test_unknown_pipe_is_a_404(client, db):
    response = await client.get("/v0/pipes/no_such_pipe.json")
    assert response.status_code == 404
    assert "product_performance_overview" in response.json()["error"]


async def test_pipe_csv_round_trips_the_json_rows(client, products):
    body = await pipe(client, "user_engagement")
    response = await client.get("/v0/pipes/user_engagement.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(response.text)))
    assert list(parsed[0]) == [c for c, _ in PIPES["user_engagement"].columns]
    assert [
        (r["product_id"], r["event_type"], int(r["event_count"]), float(r["events_per_user"]))
        for r in parsed
    ] == [
        (r["product_id"], r["event_type"], r["event_count"], pytest.approx(r["events_per_user"]))
        for r in body["data"]
    ]
