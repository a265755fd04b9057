"""Contract semantics checked field by field against rows each test makes itself.

Each test proves one sentence of the contract (schema.graphql header or a field
doc); expected values are computed here in plain Python from the test's rows.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.factories import (
    INGEST_API_REQUESTS,
    INGEST_PREDICTIONS,
    INGEST_PRODUCT_EVENTS,
    RECORD_ACTUALS,
    RECORD_METRICS,
    api_request,
    endpoint_query,
    ingest_api_requests,
    ingest_predictions,
    ingest_product_events,
    iso,
    metric_sample,
    prediction,
    product_event,
    product_query,
)

MIXED_CASE = ["b", "B", "a", "A", "_z", "Z"]


def _window(now: datetime, hours: int = 2) -> dict[str, str]:
    return {"from": iso(now - timedelta(hours=hours)), "to": iso(now)}


def _tally(result: dict[str, Any]) -> tuple[int, int, list[tuple[int, str | None]]]:
    """accepted, duplicates and (index, field) of each rejected row of an IngestResult."""
    rejected = [(r["index"], r["field"]) for r in result["rejected"]]
    return result["accepted"], result["duplicates"], rejected


# ------------------------------------------------------------------ ordering ties


async def test_breakdown_ties_are_ordered_by_value_in_code_point_order(
    gql: Any, now: datetime
) -> None:
    """Ties "then value" use code-point order (Python's sorted), whatever the DB locale."""
    events = [product_event(now - timedelta(minutes=5), country=c) for c in MIXED_CASE]
    await ingest_product_events(gql, events, now)
    doc = product_query("breakdown(by: COUNTRY, range: $range) { value metrics { totalEvents } }")
    data = await gql(doc, {"id": "shop", "range": _window(now)}, now=now)
    assert [s["value"] for s in data["product"]["breakdown"]] == sorted(MIXED_CASE)


async def test_engagement_and_top_errors_ties_use_code_point_order(gql: Any, now: datetime) -> None:
    """engagement "then eventType" and topErrors "ties by code" follow the same order."""
    at = now - timedelta(minutes=5)
    events = [product_event(at, eventType=v, errorCode=v) for v in MIXED_CASE]
    await ingest_product_events(gql, events, now)
    doc = product_query(
        "engagement(range: $range) { eventType } topErrors(range: $range) { error share }"
    )
    product = (await gql(doc, {"id": "shop", "range": _window(now)}, now=now))["product"]
    assert [r["eventType"] for r in product["engagement"]] == sorted(MIXED_CASE)
    assert [r["error"] for r in product["topErrors"]] == sorted(MIXED_CASE)


async def test_top_error_reason_tie_is_the_first_reason_in_code_point_order(
    gql: Any, now: datetime
) -> None:
    """topErrorReason: "ties broken by name" -> the smallest name wins."""
    at = now - timedelta(minutes=5)
    rows = [api_request(at, statusCode=500, errorReason=r) for r in ["b", "a", "B"]]
    await ingest_api_requests(gql, rows, now)
    doc = endpoint_query("stats(range: $range) { topErrorReason }")
    data = await gql(doc, {"name": "/api/orders", "range": _window(now)}, now=now)
    assert data["endpoint"]["stats"]["topErrorReason"] == min(["b", "a", "B"])


async def test_catalog_pages_follow_code_point_order_of_ids(gql: Any, now: datetime) -> None:
    """products "ordered by id": every page continues where the previous ended."""
    ids = ["beta", "Alpha", "alpha", "Beta", "_x"]
    await ingest_product_events(
        gql, [product_event(now - timedelta(minutes=1), productId=i) for i in ids], now
    )
    doc = """query($after: String) { products(first: 2, after: $after) {
      nodes { id } pageInfo { hasNextPage endCursor } } }"""
    seen: list[str] = []
    after = None
    while True:
        page = (await gql(doc, {"after": after}, now=now))["products"]
        seen += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(ids)


# ------------------------------------------------------------------ ranges


@pytest.mark.parametrize(
    "field",
    [
        "stats(range: $range) { requests }",
        "errors(range: $range) { error }",
        "breakdown(by: REGION, range: $range) { value }",
        "timeseries(granularity: HOUR, range: $range) { bucket }",
        "latencyHistogram(range: $range) { lowerMs }",
        "businessImpact(range: $range) { revenueAttribution }",
    ],
)
async def test_endpoint_range_from_after_to_is_a_clear_error(
    gql: Any, now: datetime, field: str
) -> None:
    await ingest_api_requests(gql, [api_request(now - timedelta(minutes=1))], now)
    bad = {"from": iso(now), "to": iso(now - timedelta(hours=1))}
    errors = await gql.errors(endpoint_query(field), {"name": "/api/orders", "range": bad})
    assert [e.extensions["code"] for e in errors] == ["BAD_USER_INPUT"]
    assert "range.from" in errors[0].message


@pytest.mark.parametrize(
    "field",
    [
        "performance(range: $range) { rmse }",
        'performance(version: "latest", range: $range) { rmse }',
        "timeseries(granularity: HOUR, range: $range) { bucket }",
        "predictions(range: $range) { totalCount }",
    ],
)
async def test_model_range_from_after_to_is_a_clear_error(
    gql: Any, now: datetime, field: str
) -> None:
    await ingest_predictions(gql, [prediction(now - timedelta(minutes=1), 1.0)], now)
    bad = {"from": iso(now), "to": iso(now - timedelta(hours=1))}
    doc = f'query($range: TimeRange) {{ model(id: "eta") {{ {field} }} }}'
    errors = await gql.errors(doc, {"range": bad})
    assert [e.extensions["code"] for e in errors] == ["BAD_USER_INPUT"]
    assert "range.from" in errors[0].message


async def test_omitted_range_bounds_default_to_now_and_24_hours_before(
    gql: Any, now: datetime
) -> None:
    """Omitted to = now, omitted from = to - 24 h; the range is half-open."""
    offsets = [timedelta(hours=24), timedelta(hours=23, minutes=59), timedelta(0)]
    offsets += [timedelta(hours=-1)]  # ahead of `now` but within the ingest clock's reach
    ingest_now = now + timedelta(hours=1)
    events = [product_event(now - o) for o in offsets]
    await gql(INGEST_PRODUCT_EVENTS, {"events": events}, now=ingest_now)
    doc = product_query(
        "all: overview { totalEvents } onlyTo: overview(range: $range) { totalEvents }"
    )
    to = now - timedelta(hours=23, minutes=59)
    data = await gql(doc, {"id": "shop", "range": {"to": iso(to)}}, now=now)
    # [now-24h, now): the event at now-24h counts, the one at now does not.
    assert data["product"]["all"]["totalEvents"] == sum(
        1 for o in offsets if timedelta(0) < o <= timedelta(hours=24)
    )
    # to given, from = to - 24h: only the event at now-24h lies in [to-24h, to).
    assert data["product"]["onlyTo"]["totalEvents"] == sum(
        1 for o in offsets if to - timedelta(hours=24) <= now - o < to
    )


# ------------------------------------------------------------------ ingest accounting


async def test_ingest_counts_each_product_event_once_and_names_camel_case_fields(
    gql: Any, now: datetime
) -> None:
    stored = product_event(now - timedelta(minutes=3))
    await ingest_product_events(gql, [stored], now)
    batch = [
        product_event(now - timedelta(minutes=2)),  # accepted
        {**stored},  # already stored: duplicate
        product_event(now - timedelta(minutes=1), eventId="twice"),  # accepted
        product_event(now - timedelta(minutes=1), eventId="twice"),  # same batch: duplicate
        product_event(now, productId=""),  # rejected: empty entity id
        product_event(now, durationMs=-1.0),  # rejected: negative duration
        product_event(now + timedelta(minutes=5, seconds=1)),  # rejected: ahead of the clock
        product_event(now + timedelta(minutes=5)),  # exactly 5 minutes ahead: accepted
    ]
    result = (await gql(INGEST_PRODUCT_EVENTS, {"events": batch}, now=now))["ingestProductEvents"]
    assert _tally(result) == (
        3,
        2,
        [
            (4, "productId"),
            (5, "durationMs"),
            (6, "timestamp"),
        ],
    )
    assert result["accepted"] + result["duplicates"] + len(result["rejected"]) == len(batch)


async def test_ingest_counts_each_api_request_and_prediction_once(gql: Any, now: datetime) -> None:
    at = now - timedelta(minutes=1)
    requests = [
        api_request(at, requestId="r"),
        api_request(at, requestId="r"),
        api_request(at, statusCode=600),
        api_request(at, latencyMs=-0.5),
        api_request(at, endpoint=""),
    ]
    result = (await gql(INGEST_API_REQUESTS, {"requests": requests}, now=now))["ingestApiRequests"]
    assert _tally(result) == (
        1,
        1,
        [
            (2, "statusCode"),
            (3, "latencyMs"),
            (4, "endpoint"),
        ],
    )
    predictions = [
        prediction(at, 1.0, predictionId="p"),
        prediction(at, 2.0, predictionId="p"),
        prediction(at, 1.0, modelId=""),
        prediction(at, 1.0, modelVersion=""),
        prediction(now + timedelta(minutes=6), 1.0),
    ]
    result = (await gql(INGEST_PREDICTIONS, {"predictions": predictions}, now=now))[
        "ingestPredictions"
    ]
    assert _tally(result) == (
        1,
        1,
        [
            (2, "modelId"),
            (3, "modelVersion"),
            (4, "timestamp"),
        ],
    )


async def test_record_actuals_counts_equal_as_duplicate_new_as_accepted_unknown_as_rejected(
    gql: Any, now: datetime
) -> None:
    at = now - timedelta(minutes=1)
    await ingest_predictions(
        gql,
        [prediction(at, 1.0, 3.0, predictionId="a"), prediction(at, 1.0, predictionId="b")],
        now,
    )
    actuals = [
        {"predictionId": "a", "actualValue": 3.0},  # equal to stored: duplicate
        {"predictionId": "b", "actualValue": 4.0},  # new: accepted
        {"predictionId": "b", "actualValue": 4.0},  # equal to the one just set: duplicate
        {"predictionId": "a", "actualValue": 5.0},  # different: replaces, accepted
        {"predictionId": "zzz", "actualValue": 1.0},  # unknown: rejected
        {"predictionId": "", "actualValue": 1.0},  # empty id: rejected
    ]
    result = (await gql(RECORD_ACTUALS, {"actuals": actuals}, now=now))["recordActuals"]
    assert _tally(result) == (
        2,
        2,
        [
            (4, "predictionId"),
            (5, "predictionId"),
        ],
    )
    doc = 'query { model(id: "eta") { predictions { nodes { predictionId actualValue error } } } }'
    nodes = (await gql(doc, now=now))["model"]["predictions"]["nodes"]
    assert {n["predictionId"]: (n["actualValue"], n["error"]) for n in nodes} == {
        "a": (5.0, 1.0 - 5.0),
        "b": (4.0, 1.0 - 4.0),
    }
    # The quarantine's range is on receivedAt, the server's clock: ask with the real clock.
    quarantined = (await gql("{ quarantine(kind: ACTUAL) { totalCount } }"))["quarantine"]
    assert quarantined["totalCount"] == len(result["rejected"])


async def test_record_metrics_accepts_every_valid_sample_and_rejects_the_rest(
    gql: Any, now: datetime
) -> None:
    samples = [
        metric_sample(),
        metric_sample(),  # no natural id: never a duplicate
        metric_sample(name=""),
        metric_sample(value=2.0, timestamp=iso(now + timedelta(minutes=10))),
    ]
    result = (await gql(RECORD_METRICS, {"samples": samples}, now=now))["recordMetrics"]
    assert _tally(result) == (2, 0, [(2, "name"), (3, "timestamp")])


async def test_is_error_is_derived_from_a_non_empty_error_code_only_when_null(
    gql: Any, now: datetime
) -> None:
    at = now - timedelta(minutes=1)
    cases = [
        ({"errorCode": "E1"}, True),
        ({"errorCode": ""}, False),
        ({"errorCode": None}, False),
        ({"errorCode": "E1", "isError": False}, False),
        ({"errorCode": "", "isError": True}, True),
    ]
    events = [product_event(at, eventId=f"ev{i}", **fields) for i, (fields, _) in enumerate(cases)]
    await ingest_product_events(gql, events, now)
    doc = product_query("events { nodes { eventId isError errorCode } }")
    nodes = (await gql(doc, {"id": "shop"}, now=now))["product"]["events"]["nodes"]
    assert {n["eventId"]: n["isError"] for n in nodes} == {
        f"ev{i}": expected for i, (_, expected) in enumerate(cases)
    }


async def test_error_reason_of_successful_requests_is_ignored(gql: Any, now: datetime) -> None:
    at = now - timedelta(minutes=1)
    rows = [
        api_request(at, statusCode=200, errorReason="noise"),
        api_request(at, statusCode=302, errorReason="noise"),
        api_request(at, statusCode=503, errorReason="down"),
        api_request(at, statusCode=404),
    ]
    await ingest_api_requests(gql, rows, now)
    doc = endpoint_query(
        "stats(range: $range) { topErrorReason } errors(range: $range) { error count share }"
    )
    endpoint = (await gql(doc, {"name": "/api/orders", "range": _window(now)}, now=now))["endpoint"]
    failed = [r for r in rows if not 200 <= r["statusCode"] < 400]
    assert endpoint["stats"]["topErrorReason"] == "down"
    assert endpoint["errors"] == [{"error": "down", "count": 1, "share": 1 / len(failed)}]


# ------------------------------------------------------------------ filters, search, breakdowns


async def test_null_filter_list_does_not_filter_and_empty_list_matches_nothing(
    gql: Any, now: datetime
) -> None:
    at = now - timedelta(minutes=1)
    rows = [api_request(at, statusCode=c, region=r) for c, r in [(200, "eu"), (500, None)]]
    await ingest_api_requests(gql, rows, now)
    doc = endpoint_query("stats(range: $range, filter: $filter) { requests successRate }")
    expected = {
        "none": (len(rows), sum(1 for r in rows if r["statusCode"] < 400) / len(rows)),
        "null": (len(rows), sum(1 for r in rows if r["statusCode"] < 400) / len(rows)),
        "empty": (0, 0.0),
    }
    filters = {"none": None, "null": {"statusCodes": None}, "empty": {"statusCodes": []}}
    for case, filter_ in filters.items():
        variables = {"name": "/api/orders", "range": _window(now), "filter": filter_}
        stats = (await gql(doc, variables, now=now))["endpoint"]["stats"]
        assert (stats["requests"], stats["successRate"]) == expected[case], case


async def test_status_code_breakdown_writes_codes_in_decimal_and_null_regions_as_empty(
    gql: Any, now: datetime
) -> None:
    at = now - timedelta(minutes=1)
    codes = [200, 200, 404, 503, 503, 503]
    rows = [api_request(at, statusCode=c, region="eu" if c == 404 else None) for c in codes]
    await ingest_api_requests(gql, rows, now)
    doc = endpoint_query(
        "byCode: breakdown(by: STATUS_CODE, range: $range) { value metrics { requests } } "
        "byRegion: breakdown(by: REGION, range: $range) { value metrics { requests } }"
    )
    endpoint = (await gql(doc, {"name": "/api/orders", "range": _window(now)}, now=now))["endpoint"]
    counts = {str(c): codes.count(c) for c in set(codes)}
    ranked = sorted(counts, key=lambda v: (-counts[v], v))
    assert [(s["value"], s["metrics"]["requests"]) for s in endpoint["byCode"]] == [
        (v, counts[v]) for v in ranked
    ]
    assert [s["value"] for s in endpoint["byRegion"]] == ["", "eu"]


@pytest.mark.parametrize(
    ("root", "search", "expected"),
    [
        ("endpoints", "ORD", ["/api/Orders", "/api/orders"]),
        ("models", "ETA", ["ETA-2", "eta"]),
        ("products", "SHOP", ["Shop", "p2"]),
    ],
)
async def test_search_is_a_case_insensitive_substring_of_id_or_name(
    gql: Any, now: datetime, root: str, search: str, expected: list[str]
) -> None:
    at = now - timedelta(minutes=1)
    await ingest_api_requests(
        gql, [api_request(at, endpoint=e) for e in ["/api/orders", "/api/Orders", "/x"]], now
    )
    await ingest_predictions(
        gql, [prediction(at, 1.0, modelId=m) for m in ["eta", "ETA-2", "q"]], now
    )
    await ingest_product_events(
        gql,
        [
            product_event(at, productId="Shop"),
            product_event(at, productId="p2", productName="Webshop"),
            product_event(at, productId="p3", productName="other"),
        ],
        now,
    )
    key = "name" if root == "endpoints" else "id"
    doc = f'{{ {root}(search: "{search}") {{ nodes {{ {key} }} totalCount }} }}'
    found = (await gql(doc, now=now))[root]
    assert [n[key] for n in found["nodes"]] == sorted(expected)
    assert found["totalCount"] == len(expected)


# ------------------------------------------------------------------ pages


async def test_first_zero_and_pages_past_the_end_have_no_end_cursor(
    gql: Any, now: datetime
) -> None:
    at = now - timedelta(minutes=1)
    events = [product_event(at, eventId=f"e{i}") for i in range(3)]
    await ingest_product_events(gql, events, now)
    doc = """query($first: Int, $after: String) { product(id: "shop") {
      events(first: $first, after: $after) {
        nodes { eventId } pageInfo { hasNextPage endCursor } totalCount } } }"""
    zero = (await gql(doc, {"first": 0}, now=now))["product"]["events"]
    assert zero == {
        "nodes": [],
        "pageInfo": {"hasNextPage": True, "endCursor": None},
        "totalCount": len(events),
    }
    full = (await gql(doc, {"first": len(events)}, now=now))["product"]["events"]
    # Same timestamp: newest first falls back to the id, descending.
    assert [n["eventId"] for n in full["nodes"]] == sorted(
        (e["eventId"] for e in events), reverse=True
    )
    assert full["pageInfo"]["hasNextPage"] is False
    past = await gql(doc, {"first": 2, "after": full["pageInfo"]["endCursor"]}, now=now)
    assert past["product"]["events"]["nodes"] == []
    assert past["product"]["events"]["pageInfo"] == {"hasNextPage": False, "endCursor": None}


# ------------------------------------------------------------------ models


async def test_versions_are_newest_first_by_latest_prediction_across_environments(
    gql: Any, now: datetime
) -> None:
    rows = [
        prediction(now - timedelta(hours=5), 1.0, modelVersion="v1", environment="staging"),
        prediction(now - timedelta(hours=1), 1.0, modelVersion="v1", environment="production"),
        prediction(now - timedelta(hours=2), 1.0, modelVersion="v2", environment="staging"),
        prediction(now - timedelta(hours=3), 1.0, modelVersion="v3", environment="production"),
    ]
    await ingest_predictions(gql, rows, now)
    latest: dict[str, datetime] = {}
    for row in rows:
        stamp = datetime.fromisoformat(row["timestamp"])
        latest[row["modelVersion"]] = max(latest.get(row["modelVersion"], stamp), stamp)
    data = await gql('{ model(id: "eta") { versions environments } }', now=now)
    assert data["model"]["versions"] == sorted(latest, key=lambda v: latest[v], reverse=True)
    assert data["model"]["environments"] == sorted({r["environment"] for r in rows})


async def test_latest_version_includes_predictions_stamped_just_ahead_of_the_clock(
    gql: Any, now: datetime
) -> None:
    """A prediction up to 5 minutes ahead is accepted, so it is the newest prediction."""
    rows = [
        prediction(now - timedelta(hours=1), 1.0, 2.0, modelVersion="v1"),
        prediction(now + timedelta(minutes=2), 10.0, 4.0, modelVersion="v2"),
    ]
    await ingest_predictions(gql, rows, now)
    doc = """query($range: TimeRange) { model(id: "eta") {
      performance(version: "latest", range: $range) { predictionCount bias } } }"""
    window = {"from": iso(now - timedelta(hours=2)), "to": iso(now + timedelta(minutes=5))}
    performance = (await gql(doc, {"range": window}, now=now))["model"]["performance"]
    newest = max(rows, key=lambda r: r["timestamp"])
    assert performance == {
        "predictionCount": 1,
        "bias": newest["predictedValue"] - newest["actualValue"],
    }


async def test_mape_skips_zero_actuals_and_bias_is_positive_when_over_predicting(
    gql: Any, now: datetime
) -> None:
    at = now - timedelta(minutes=5)
    pairs = [(3.0, 0.0), (6.0, 4.0), (1.0, 2.0), (5.0, None)]
    await ingest_predictions(gql, [prediction(at, p, a) for p, a in pairs], now)
    doc = 'query { model(id: "eta") { performance { mape bias labeledCount predictionCount } } }'
    performance = (await gql(doc, now=now))["model"]["performance"]
    labeled = [(p, a) for p, a in pairs if a is not None]
    relative = [abs(p - a) / abs(a) for p, a in labeled if a != 0]
    assert performance["mape"] == pytest.approx(sum(relative) / len(relative))
    assert performance["bias"] == pytest.approx(sum(p - a for p, a in labeled) / len(labeled))
    assert performance["bias"] > 0
    assert (performance["labeledCount"], performance["predictionCount"]) == (3, 4)


# ------------------------------------------------------------------ endpoint bands and impact


def _band(latency: float, width: float) -> int:
    """The k with k*width <= latency < (k+1)*width, in floating point as the client sees it."""
    k = math.floor(latency / width)
    while k * width > latency:
        k -= 1
    while (k + 1) * width <= latency:
        k += 1
    return k


@pytest.mark.parametrize("width", [0.1, 0.7, 100.0])
async def test_latency_band_lower_bound_is_inclusive_even_for_fractional_widths(
    gql: Any, now: datetime, width: float
) -> None:
    latencies = [1869.8, 0.3, 0.7, 2.5, 1869.8, 99.99, 100.0, 0.0]
    at = now - timedelta(minutes=1)
    await ingest_api_requests(gql, [api_request(at, latencyMs=v) for v in latencies], now)
    doc = """query($range: TimeRange, $width: Float) { endpoint(name: "/api/orders") {
      latencyHistogram(range: $range, bucketMs: $width) { lowerMs upperMs requests } } }"""
    data = await gql(doc, {"range": _window(now), "width": width}, now=now)
    bands = data["endpoint"]["latencyHistogram"]
    counts: dict[int, int] = {}
    for latency in latencies:
        counts[_band(latency, width)] = counts.get(_band(latency, width), 0) + 1
    assert bands == [
        {"lowerMs": k * width, "upperMs": (k + 1) * width, "requests": counts[k]}
        for k in sorted(counts)
    ]
    for band in bands:
        members = [v for v in latencies if band["lowerMs"] <= v < band["upperMs"]]
        assert len(members) == band["requests"]
