"""Every product field of the contract, checked against values computed from the test's rows."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.factories import (
    PRODUCT_METRIC_FIELDS,
    approx_metrics,
    at,
    expected_product_metrics,
    ingest_product_events,
    is_error,
    iso,
    product_event,
    product_events_mix,
    product_query,
)

OFFSET_ZONE = timezone(timedelta(hours=5, minutes=30))


async def test_overview_matches_every_measure_over_the_default_range(gql, now):
    rows = product_events_mix(now) + [product_event(now - timedelta(hours=30))]
    await ingest_product_events(gql, rows, now)
    data = await gql(
        product_query(f"overview {{ {PRODUCT_METRIC_FIELDS} }}"), {"id": "shop"}, now=now
    )
    in_day = [r for r in rows if now - timedelta(hours=24) <= at(r) < now]
    assert data["product"]["overview"] == approx_metrics(expected_product_metrics(in_day))


async def test_range_is_half_open(gql, now):
    start, end = now - timedelta(hours=2), now - timedelta(hours=1)
    rows = [
        product_event(start, userId="a"),
        product_event(end - timedelta(microseconds=1), userId="b"),
        product_event(end, userId="c"),
        product_event(start - timedelta(microseconds=1), userId="d"),
    ]
    await ingest_product_events(gql, rows, now)
    doc = product_query("overview(range: $range) { totalEvents uniqueUsers }")
    data = await gql(doc, {"id": "shop", "range": {"from": iso(start), "to": iso(end)}}, now=now)
    assert data["product"]["overview"] == {"totalEvents": 2, "uniqueUsers": 2}


async def test_overview_over_zero_rows_has_null_averages_and_zero_rates(gql, now):
    await ingest_product_events(gql, [product_event(now - timedelta(hours=3))], now)
    doc = product_query(f"overview(range: $range) {{ {PRODUCT_METRIC_FIELDS} }}")
    empty = {"from": iso(now - timedelta(hours=1)), "to": iso(now)}
    data = await gql(doc, {"id": "shop", "range": empty}, now=now)
    assert data["product"]["overview"] == expected_product_metrics([])
    assert data["product"]["overview"]["errorRate"] == 0


async def test_averages_ignore_null_measures_and_are_null_when_all_are_null(gql, now):
    rows = [
        product_event(now - timedelta(minutes=1), durationMs=10.0),
        product_event(now - timedelta(minutes=2), durationMs=None, apiLatencyMs=None),
        product_event(now - timedelta(minutes=3), durationMs=40.0),
    ]
    await ingest_product_events(gql, rows, now)
    doc = product_query("overview { totalEvents avgDurationMs avgApiLatencyMs p95ApiLatencyMs }")
    data = await gql(doc, {"id": "shop"}, now=now)
    assert data["product"]["overview"] == {
        "totalEvents": 3,
        "avgDurationMs": 25.0,
        "avgApiLatencyMs": None,
        "p95ApiLatencyMs": None,
    }


@pytest.mark.parametrize(
    ("filter_", "keep"),
    [
        (None, lambda r: True),
        ({"countries": None}, lambda r: True),
        ({"countries": []}, lambda r: False),
        ({"countries": ["de", "fr"]}, lambda r: r["country"] in ("de", "fr")),
        ({"countries": [""]}, lambda r: r["country"] is None),
        (
            {"deviceTypes": ["mobile"], "sources": ["web", "ios"]},
            lambda r: r["deviceType"] == "mobile" and r["source"] in ("web", "ios"),
        ),
        ({"eventTypes": ["click"]}, lambda r: r["eventType"] == "click"),
    ],
)
async def test_overview_filter_follows_the_contract(gql, now, filter_, keep):
    rows = product_events_mix(now, count=40, seed=3)
    await ingest_product_events(gql, rows, now)
    doc = product_query(f"overview(filter: $filter) {{ {PRODUCT_METRIC_FIELDS} }}")
    data = await gql(doc, {"id": "shop", "filter": filter_}, now=now)
    expected = expected_product_metrics([r for r in rows if keep(r)])
    assert data["product"]["overview"] == approx_metrics(expected)


DIMENSIONS = {
    "COUNTRY": "country",
    "DEVICE_TYPE": "deviceType",
    "EVENT_TYPE": "eventType",
    "SOURCE": "source",
}


@pytest.mark.parametrize("dimension", sorted(DIMENSIONS))
async def test_breakdown_slices_rank_by_events_then_value_with_null_as_empty(gql, now, dimension):
    rows = product_events_mix(now, count=80, seed=11)
    await ingest_product_events(gql, rows, now)
    doc = product_query(
        f"breakdown(by: {dimension}) {{ value metrics {{ {PRODUCT_METRIC_FIELDS} }} }}"
    )
    data = await gql(doc, {"id": "shop"}, now=now)
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(row.get(DIMENSIONS[dimension]) or "", []).append(row)
    expected = [
        {"value": value, "metrics": approx_metrics(expected_product_metrics(members))}
        for value, members in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0]))
    ]
    assert "" in groups or dimension == "EVENT_TYPE"
    assert data["product"]["breakdown"] == expected


async def test_breakdown_limit_keeps_the_largest_slices(gql, now):
    rows = [
        product_event(now - timedelta(minutes=n), country=c)
        for n, c in enumerate("aabbbcd", start=1)
    ]
    await ingest_product_events(gql, rows, now)
    doc = product_query("breakdown(by: COUNTRY, limit: 2) { value metrics { totalEvents } }")
    data = await gql(doc, {"id": "shop"}, now=now)
    assert data["product"]["breakdown"] == [
        {"value": "b", "metrics": {"totalEvents": 3}},
        {"value": "a", "metrics": {"totalEvents": 2}},
    ]


TRUNCATE = {
    "MINUTE": lambda t: t.replace(second=0, microsecond=0),
    "HOUR": lambda t: t.replace(minute=0, second=0, microsecond=0),
    "DAY": lambda t: t.replace(hour=0, minute=0, second=0, microsecond=0),
}


@pytest.mark.parametrize("granularity", sorted(TRUNCATE))
async def test_timeseries_has_one_point_per_utc_bucket_with_events(gql, now, granularity):
    rows = product_events_mix(now, count=50, seed=5)
    rows[0]["timestamp"] = rows[1]["timestamp"]  # two events in one minute, for every granularity
    offset_at = (now - timedelta(hours=5, minutes=10)).astimezone(OFFSET_ZONE)
    rows.append(product_event(offset_at, timestamp=offset_at.isoformat()))
    rows.append(product_event(now - timedelta(days=2, minutes=7)))  # another day, hour, minute
    await ingest_product_events(gql, rows, now)
    range_ = {"from": iso(now - timedelta(days=3)), "to": iso(now)}
    doc = product_query(
        f"timeseries(granularity: {granularity}, range: $range) "
        f"{{ bucket metrics {{ totalEvents errorCount avgDurationMs p95ApiLatencyMs }} }}"
    )
    data = await gql(doc, {"id": "shop", "range": range_}, now=now)
    buckets: dict[datetime, list] = {}
    for row in rows:
        buckets.setdefault(TRUNCATE[granularity](at(row).astimezone(UTC)), []).append(row)
    fields = ("totalEvents", "errorCount", "avgDurationMs", "p95ApiLatencyMs")
    expected = [
        (bucket, approx_metrics({f: expected_product_metrics(members)[f] for f in fields}))
        for bucket, members in sorted(buckets.items())
    ]
    got = [
        (datetime.fromisoformat(p["bucket"]), p["metrics"]) for p in data["product"]["timeseries"]
    ]
    assert got == expected


async def test_top_errors_rank_codes_and_share_over_all_error_events(gql, now):
    rows = product_events_mix(now, count=90, seed=21)
    rows.append(product_event(now - timedelta(minutes=1), errorCode="", isError=True))
    await ingest_product_events(gql, rows, now)
    doc = product_query("topErrors(limit: 2) { error count share lastSeen }")
    data = await gql(doc, {"id": "shop"}, now=now)
    errors = [r for r in rows if is_error(r)]
    counts = Counter(r["errorCode"] for r in errors if r.get("errorCode"))
    ranked = sorted(counts.items(), key=lambda c: (-c[1], c[0]))[:2]
    expected = [
        {
            "error": code,
            "count": count,
            "share": pytest.approx(count / len(errors)),
            "lastSeen": max(at(r) for r in errors if r.get("errorCode") == code),
        }
        for code, count in ranked
    ]
    got = [
        dict(e, lastSeen=datetime.fromisoformat(e["lastSeen"]))
        for e in data["product"]["topErrors"]
    ]
    assert got == expected


async def test_top_errors_ignore_codes_of_events_that_are_not_errors(gql, now):
    rows = [
        product_event(now - timedelta(minutes=1), errorCode="E_WARN", isError=False),
        product_event(now - timedelta(minutes=2), errorCode="E_FATAL"),
    ]
    await ingest_product_events(gql, rows, now)
    data = await gql(product_query("topErrors { error count share }"), {"id": "shop"}, now=now)
    assert data["product"]["topErrors"] == [{"error": "E_FATAL", "count": 1, "share": 1.0}]


async def test_engagement_has_one_row_per_event_type(gql, now):
    rows = product_events_mix(now, count=70, seed=9)
    rows.append(product_event(now - timedelta(minutes=3), eventType="signup"))  # no user
    await ingest_product_events(gql, rows, now)
    doc = product_query("engagement { eventType events uniqueUsers eventsPerUser avgDurationMs }")
    data = await gql(doc, {"id": "shop"}, now=now)
    expected = []
    for event_type in {r["eventType"] for r in rows}:
        members = [r for r in rows if r["eventType"] == event_type]
        metrics = expected_product_metrics(members)
        users = metrics["uniqueUsers"]
        expected.append(
            {
                "eventType": event_type,
                "events": len(members),
                "uniqueUsers": users,
                "eventsPerUser": pytest.approx(len(members) / users) if users else 0.0,
                "avgDurationMs": pytest.approx(metrics["avgDurationMs"]),
            }
        )
    expected.sort(key=lambda e: (-e["events"], e["eventType"]))
    assert data["product"]["engagement"] == expected


EVENTS = product_query(
    "events(filter: $filter, first: $first, after: $after) "
    "{ totalCount pageInfo { hasNextPage endCursor } nodes { eventId timestamp country } }"
).replace("$filter: ProductEventFilter", "$filter: ProductEventFilter, $first: Int, $after: String")


async def test_events_page_newest_first_across_equal_timestamps(gql, now):
    times = [now - timedelta(minutes=m) for m in (1, 2, 2, 2, 2, 3, 4)]
    rows = [product_event(t, country="de" if n % 2 else "fr") for n, t in enumerate(times)]
    rows.append(product_event(now - timedelta(days=2)))
    await ingest_product_events(gql, rows, now)
    seen, after = [], None
    for _ in range(len(rows)):
        variables = {"id": "shop", "filter": {"countries": ["de"]}, "first": 2, "after": after}
        page = (await gql(EVENTS, variables, now=now))["product"]["events"]
        seen += [n["eventId"] for n in page["nodes"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    wanted = [r for r in rows[:-1] if r["country"] == "de"]
    assert seen == [r["eventId"] for r in sorted(wanted, key=lambda r: (at(r), r["eventId"]))[::-1]]
    assert page["totalCount"] == len(wanted)


@pytest.mark.parametrize(
    "field", ["topErrors(limit: 0) { error }", "breakdown(by: COUNTRY, limit: 0) { value }"]
)
async def test_limit_zero_lists_nothing(gql, now, field):
    await ingest_product_events(
        gql, [product_event(now - timedelta(minutes=1), errorCode="E")], now
    )
    data = await gql(product_query(field), {"id": "shop"}, now=now)
    assert next(iter(data["product"].values())) == []
