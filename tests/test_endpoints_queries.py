"""Endpoint metrics, breakdowns, timeseries, errors and filters, checked against values
computed here from the rows each test ingests."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import timedelta

import pytest

from tests.factories import (
    ENDPOINT_METRIC_FIELDS,
    PERCENTILE_TOLERANCE,
    api_request,
    api_requests_mix,
    approx_metrics,
    at,
    endpoint_query,
    expected_endpoint_metrics,
    ingest_api_requests,
    iso,
    succeeded,
)

STATS = endpoint_query(f"stats(range: $range, filter: $filter) {{ {ENDPOINT_METRIC_FIELDS} }}")
NAME = {"name": "/api/orders"}
DIMENSIONS = {
    "REGION": "region",
    "DEVICE_TYPE": "deviceType",
    "DOCUMENT_TYPE": "documentType",
    "STATUS_CODE": "statusCode",
    "METHOD": "method",
}


def dimension_text(row, key):
    value = row.get(key, "GET" if key == "method" else None)
    return "" if value is None else str(value)


async def test_stats_follow_the_contract_over_mixed_requests(gql, now):
    rows = api_requests_mix(now)
    await ingest_api_requests(gql, rows, now)
    data = await gql(STATS, NAME, now=now)
    assert data["endpoint"]["stats"] == approx_metrics(expected_endpoint_metrics(rows))


@pytest.mark.parametrize("size", [1, 2, 3, 10, 101])
async def test_latency_percentiles_interpolate_between_ranks(gql, now, size):
    latencies = [float((n * 37) % 211) + 0.25 * n for n in range(size)]
    rows = [api_request(now - timedelta(minutes=1), latencyMs=value) for value in latencies]
    await ingest_api_requests(gql, rows, now)
    fields = endpoint_query("stats { p50LatencyMs p95LatencyMs p99LatencyMs maxLatencyMs }")
    stats = (await gql(fields, NAME, now=now))["endpoint"]["stats"]
    if size == 1:
        expected = [latencies[0]] * 3
    else:
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        expected = [cuts[49], cuts[94], cuts[98]]
    assert [stats["p50LatencyMs"], stats["p95LatencyMs"], stats["p99LatencyMs"]] == (
        pytest.approx(expected, rel=PERCENTILE_TOLERANCE)
    )
    assert stats["maxLatencyMs"] == max(latencies)


async def test_success_is_200_to_399_inclusive_of_redirects(gql, now):
    codes = [199, 200, 204, 302, 399, 400, 404, 500, 599, 100]
    rows = [api_request(now - timedelta(minutes=1), statusCode=c) for c in codes]
    await ingest_api_requests(gql, rows, now)
    fields = endpoint_query("stats { successCount errorCount successRate errorRate }")
    stats = (await gql(fields, NAME, now=now))["endpoint"]["stats"]
    assert stats == {"successCount": 4, "errorCount": 6, "successRate": 0.4, "errorRate": 0.6}


async def test_top_error_reason_breaks_ties_by_name_and_ignores_successes(gql, now):
    minute = now - timedelta(minutes=1)
    rows = [
        api_request(minute, statusCode=500, errorReason="ZETA"),
        api_request(minute, statusCode=502, errorReason="ZETA"),
        api_request(minute, statusCode=503, errorReason="ALPHA"),
        api_request(minute, statusCode=404, errorReason="ALPHA"),
        api_request(minute, statusCode=500),
        api_request(minute, statusCode=200, errorReason="OK_BUT_SAID"),
        api_request(minute, statusCode=201, errorReason="OK_BUT_SAID"),
        api_request(minute, statusCode=202, errorReason="OK_BUT_SAID"),
    ]
    await ingest_api_requests(gql, rows, now)
    fields = endpoint_query("stats { topErrorReason }")
    assert (await gql(fields, NAME, now=now))["endpoint"]["stats"]["topErrorReason"] == "ALPHA"


async def test_an_empty_range_gives_zero_counts_and_null_averages(gql, now):
    await ingest_api_requests(gql, api_requests_mix(now, count=10), now)
    empty = {"from": iso(now - timedelta(days=9)), "to": iso(now - timedelta(days=8))}
    doc = endpoint_query(
        f"stats(range: $range) {{ {ENDPOINT_METRIC_FIELDS} }} "
        "breakdown(by: REGION, range: $range) { value } "
        "timeseries(granularity: HOUR, range: $range) { bucket } "
        "errors(range: $range) { error } "
        "latencyHistogram(range: $range) { lowerMs }"
    )
    endpoint = (await gql(doc, NAME | {"range": empty}, now=now))["endpoint"]
    assert endpoint["stats"] == expected_endpoint_metrics([])
    assert endpoint["stats"]["successRate"] == 0.0
    assert endpoint["breakdown"] == endpoint["timeseries"] == endpoint["errors"] == []
    assert endpoint["latencyHistogram"] == []


@pytest.mark.parametrize("dimension", list(DIMENSIONS))
async def test_breakdown_groups_every_dimension_ranked_by_requests_then_value(gql, now, dimension):
    rows = api_requests_mix(now, count=90, seed=3)
    for row in rows[::9]:
        row.pop("method")  # the contract's default, GET
    await ingest_api_requests(gql, rows, now)
    groups = defaultdict(list)
    for row in rows:
        groups[dimension_text(row, DIMENSIONS[dimension])].append(row)
    expected = [
        {"value": value, "metrics": approx_metrics(expected_endpoint_metrics(members))}
        for value, members in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0]))
    ]
    doc = endpoint_query(
        f"breakdown(by: {dimension}) {{ value metrics {{ {ENDPOINT_METRIC_FIELDS} }} }}"
    )
    assert (await gql(doc, NAME, now=now))["endpoint"]["breakdown"] == expected


async def test_breakdown_limit_keeps_the_largest_slices(gql, now):
    rows = api_requests_mix(now, count=60, seed=4)
    await ingest_api_requests(gql, rows, now)
    counts = Counter(str(r["statusCode"]) for r in rows)
    ranked = sorted(counts, key=lambda code: (-counts[code], code))[:3]
    doc = endpoint_query("breakdown(by: STATUS_CODE, limit: 3) { value metrics { requests } }")
    slices = (await gql(doc, NAME, now=now))["endpoint"]["breakdown"]
    assert [(s["value"], s["metrics"]["requests"]) for s in slices] == [
        (code, counts[code]) for code in ranked
    ]


@pytest.mark.parametrize(
    ("filter_", "keep"),
    [
        ({"statusCodes": [404, 500]}, lambda r: r["statusCode"] in (404, 500)),
        ({"regions": ["", "eu-west"]}, lambda r: r["region"] in (None, "eu-west")),
        (
            {"methods": ["POST"], "deviceTypes": ["mobile"]},
            lambda r: r["method"] == "POST" and r["deviceType"] == "mobile",
        ),
        ({"documentTypes": ["invoice"]}, lambda r: r["documentType"] == "invoice"),
        ({"statusCodes": []}, lambda r: False),
        ({"regions": None}, lambda r: True),
    ],
)
async def test_filters_select_the_matching_requests(gql, now, filter_, keep):
    rows = api_requests_mix(now, count=70, seed=9)
    await ingest_api_requests(gql, rows, now)
    data = await gql(STATS, NAME | {"filter": filter_}, now=now)
    expected = expected_endpoint_metrics([r for r in rows if keep(r)])
    assert data["endpoint"]["stats"] == approx_metrics(expected)


async def test_timeseries_has_one_point_per_hour_with_requests(gql, now):
    rows = api_requests_mix(now, count=50, seed=6)
    await ingest_api_requests(gql, rows, now)
    hours = defaultdict(list)
    for row in rows:
        hours[at(row).replace(minute=0, second=0, microsecond=0)].append(row)
    doc = endpoint_query(
        "timeseries(granularity: HOUR) { bucket metrics { requests errorRate p95LatencyMs } }"
    )
    points = (await gql(doc, NAME, now=now))["endpoint"]["timeseries"]
    wanted = ("requests", "errorRate", "p95LatencyMs")
    assert points == [
        {
            "bucket": iso(hour),
            "metrics": approx_metrics(
                {k: v for k, v in expected_endpoint_metrics(hours[hour]).items() if k in wanted}
            ),
        }
        for hour in sorted(hours)
    ]


async def test_errors_rank_non_empty_reasons_with_share_over_all_failures(gql, now):
    rows = api_requests_mix(now, count=120, seed=8)
    await ingest_api_requests(gql, rows, now)
    failed = [r for r in rows if not succeeded(r)]
    reasons = Counter(r["errorReason"] for r in failed if r["errorReason"])
    ranked = sorted(reasons, key=lambda reason: (-reasons[reason], reason))[:2]
    doc = endpoint_query("errors(limit: 2) { error count share lastSeen }")
    assert (await gql(doc, NAME, now=now))["endpoint"]["errors"] == [
        {
            "error": reason,
            "count": reasons[reason],
            "share": pytest.approx(reasons[reason] / len(failed)),
            "lastSeen": iso(max(at(r) for r in failed if r["errorReason"] == reason)),
        }
        for reason in ranked
    ]


async def test_endpoints_are_listed_by_name_searched_and_paged(gql, now):
    names = ["/api/users", "/api/Payments", "/health", "/api/pay_later"]
    await ingest_api_requests(
        gql, [api_request(now - timedelta(minutes=1), endpoint=n) for n in names], now
    )
    doc = """query($search: String, $first: Int, $after: String) {
      endpoints(search: $search, first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { name } } }"""
    found = (await gql(doc, {"search": "PAY"}, now=now))["endpoints"]
    assert [n["name"] for n in found["nodes"]] == ["/api/Payments", "/api/pay_later"]
    assert found["totalCount"] == 2
    first = (await gql(doc, {"first": 3}, now=now))["endpoints"]
    assert [n["name"] for n in first["nodes"]] == sorted(names)[:3]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await gql(doc, {"first": 3, "after": first["pageInfo"]["endCursor"]}, now=now)
    assert [n["name"] for n in rest["endpoints"]["nodes"]] == sorted(names)[3:]
