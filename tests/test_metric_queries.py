"""Custom metric queries: every aggregation, grouping by tags, tag filters, series, catalog."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from resolvers.access import READ, Principal
from resolvers.context import GatewayContext
from schema.root import schema
from tests.factories import RECORD_METRICS, iso, metric_sample, percentile_cont

NAME = "checkout.latency"
METHODS = ("GET", "POST")
ROUTES = ("/api/users", "/api/orders")


def _samples(now: datetime, count: int = 60, seed: int = 3) -> list[dict[str, Any]]:
    """Samples over three hours with tags; some lack a route, some share a timestamp."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        tags: dict[str, Any] = {"method": rng.choice(METHODS), "status": rng.choice((200, 500))}
        if i % 7:
            tags["route"] = rng.choice(ROUTES)
        at = now - timedelta(minutes=rng.randrange(1, 180))
        rows.append(
            metric_sample(
                name=NAME, value=round(rng.uniform(1, 900), 2), tags=tags, timestamp=iso(at)
            )
        )
    # Two samples stamped alike, newest of all: the one stored later is LAST.
    newest = iso(now - timedelta(seconds=1))
    rows.append(metric_sample(name=NAME, value=5.0, tags={"method": "GET"}, timestamp=newest))
    rows.append(metric_sample(name=NAME, value=7.0, tags={"method": "GET"}, timestamp=newest))
    return rows


def _at(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["timestamp"])


def _last(rows: list[dict[str, Any]]) -> float:
    newest = max(_at(r) for r in rows)
    return [r["value"] for r in rows if _at(r) == newest][-1]


EXPECTED: dict[str, Callable[[list[dict[str, Any]]], float]] = {
    "SUM": lambda rows: sum(r["value"] for r in rows),
    "AVG": lambda rows: sum(r["value"] for r in rows) / len(rows),
    "MIN": lambda rows: min(r["value"] for r in rows),
    "MAX": lambda rows: max(r["value"] for r in rows),
    "COUNT": lambda rows: len(rows),
    "MEDIAN": lambda rows: percentile_cont([r["value"] for r in rows], 0.5) or 0.0,
    "P95": lambda rows: percentile_cont([r["value"] for r in rows], 0.95) or 0.0,
    "P99": lambda rows: percentile_cont([r["value"] for r in rows], 0.99) or 0.0,
    "LAST": _last,
}

AGGREGATE = """
query($name: String!, $agg: Aggregation!, $range: TimeRange, $tags: JSON, $by: [String!]) {
  metric(name: $name) {
    aggregate(aggregation: $agg, range: $range, tags: $tags, groupBy: $by) {
      key tags value count
    }
  }
}
"""

SERIES = """
query($name: String!, $agg: Aggregation!, $range: TimeRange, $tags: JSON, $by: [String!]) {
  metric(name: $name) {
    series(aggregation: $agg, granularity: HOUR, range: $range, tags: $tags, groupBy: $by) {
      bucket groups { key tags value count }
    }
  }
}
"""


async def _record(gql: Any, rows: list[dict[str, Any]], now: datetime) -> None:
    result = await gql(RECORD_METRICS, {"samples": rows}, now=now)
    assert result["recordMetrics"]["accepted"] == len(rows)


def _range(now: datetime) -> dict[str, str]:
    return {"from": iso(now - timedelta(hours=4)), "to": iso(now + timedelta(minutes=1))}


def _expected_groups(
    rows: list[dict[str, Any]], keys: tuple[str, ...], aggregation: str
) -> list[dict[str, Any]]:
    grouped: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[tuple(str(row["tags"].get(k, "")) for k in keys)].append(row)
    groups = [
        {
            "key": "_".join(values),
            "tags": dict(zip(keys, values, strict=True)),
            "value": pytest.approx(EXPECTED[aggregation](members)),
            "count": len(members),
        }
        for values, members in grouped.items()
    ]
    return sorted(groups, key=lambda g: (-g["value"].expected, g["key"]))


@pytest.mark.parametrize("aggregation", list(EXPECTED))
async def test_each_aggregation_matches_plain_python(
    gql: Any, now: datetime, aggregation: str
) -> None:
    rows = _samples(now)
    await _record(gql, rows, now)
    data = await gql(AGGREGATE, {"name": NAME, "agg": aggregation, "range": _range(now)}, now=now)
    assert data["metric"]["aggregate"] == _expected_groups(rows, (), aggregation)


@pytest.mark.parametrize("keys", [("method",), ("method", "route")])
async def test_group_by_tags_keys_groups_by_values_joined_in_order(
    gql: Any, now: datetime, keys: tuple[str, ...]
) -> None:
    rows = _samples(now)
    await _record(gql, rows, now)
    variables = {"name": NAME, "agg": "P95", "range": _range(now), "by": list(keys)}
    data = await gql(AGGREGATE, variables, now=now)
    assert data["metric"]["aggregate"] == _expected_groups(rows, keys, "P95")


async def test_tag_filter_keeps_samples_containing_every_given_tag(gql: Any, now: datetime) -> None:
    rows = _samples(now)
    await _record(gql, rows, now)
    wanted = {"method": "POST", "status": 500}
    kept = [r for r in rows if all(r["tags"].get(k) == v for k, v in wanted.items())]
    variables = {"name": NAME, "agg": "SUM", "range": _range(now), "tags": wanted, "by": ["route"]}
    data = await gql(AGGREGATE, variables, now=now)
    assert data["metric"]["aggregate"] == _expected_groups(kept, ("route",), "SUM")


async def test_series_has_one_point_per_hour_with_samples_in_time_order(
    gql: Any, now: datetime
) -> None:
    rows = _samples(now)
    await _record(gql, rows, now)
    variables = {"name": NAME, "agg": "AVG", "range": _range(now), "by": ["method"]}
    data = await gql(SERIES, variables, now=now)
    buckets: dict[datetime, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        buckets[_at(row).replace(minute=0, second=0, microsecond=0)].append(row)
    expected = [
        {"bucket": iso(bucket), "groups": _expected_groups(members, ("method",), "AVG")}
        for bucket, members in sorted(buckets.items())
    ]
    got = data["metric"]["series"]
    assert [datetime.fromisoformat(p["bucket"]) for p in got] == sorted(buckets)
    assert [p["groups"] for p in got] == [p["groups"] for p in expected]


async def test_metrics_list_pages_by_name_with_type_unit_and_tag_keys(
    gql: Any, now: datetime
) -> None:
    rows = [
        metric_sample(name="b.gauge", type="GAUGE", value=1, unit="bytes", tags={"host": "x"}),
        metric_sample(name="a.count", type="COUNTER", value=2, tags={"z": "1", "a": 2}),
        metric_sample(name="c.timer", type="TIMER", value=3),
    ]
    await _record(gql, rows, now)
    query = """query($after: String) { metrics(first: 2, after: $after) {
      nodes { name type unit tagKeys } pageInfo { hasNextPage endCursor } totalCount } }"""
    first = (await gql(query, now=now))["metrics"]
    assert first["nodes"] == [
        {"name": "a.count", "type": "COUNTER", "unit": None, "tagKeys": ["a", "z"]},
        {"name": "b.gauge", "type": "GAUGE", "unit": "bytes", "tagKeys": ["host"]},
    ]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["totalCount"] == 3
    rest = (await gql(query, {"after": first["pageInfo"]["endCursor"]}, now=now))["metrics"]
    assert [n["name"] for n in rest["nodes"]] == ["c.timer"]
    assert rest["pageInfo"]["hasNextPage"] is False
    found = await gql('{ metrics(search: "GAU") { nodes { name } totalCount } }', now=now)
    assert found["metrics"] == {"nodes": [{"name": "b.gauge"}], "totalCount": 1}


async def test_metrics_with_aggregates_cost_a_fixed_number_of_statements(
    gql: Any, now: datetime, statements: Any
) -> None:
    at = iso(now - timedelta(minutes=1))
    rows = [
        metric_sample(name=f"m{i}", value=i, tags={"k": str(i % 2)}, timestamp=at)
        for i in range(12)
    ]
    await _record(gql, rows, now)
    statements.statements.clear()
    query = """{ metrics { nodes { name tagKeys
      aggregate(aggregation: SUM, groupBy: ["k"]) { key value }
      series(aggregation: MAX, granularity: HOUR) { bucket groups { value } } } } }"""
    data = await gql(query, now=now)
    assert {n["name"]: n["aggregate"][0]["value"] for n in data["metrics"]["nodes"]} == {
        f"m{i}": i for i in range(12)
    }
    assert len(statements.statements) == 4


async def test_a_confined_token_sees_only_the_metrics_it_names(
    db: Any, settings: Any, gql: Any, now: datetime
) -> None:
    at = iso(now - timedelta(minutes=1))
    rows = [metric_sample(name=name, value=1, timestamp=at) for name in ("a.m", "b.m", "c.m")]
    await _record(gql, rows, now)
    confined = Principal("t", frozenset({READ}), resource_ids=frozenset({"b.m", "zzz"}))
    context = GatewayContext(db, settings, now=now, principal=confined)
    query = """{ metrics { nodes { name } totalCount }
      visible: metric(name: "b.m") { name aggregate(aggregation: SUM) { value } }
      hidden: metric(name: "a.m") { name } }"""
    result = await schema.execute(query, context_value={"gateway": context})
    assert result.errors is None, result.errors
    assert result.data == {
        "metrics": {"nodes": [{"name": "b.m"}], "totalCount": 1},
        "visible": {"name": "b.m", "aggregate": [{"value": 1.0}]},
        "hidden": None,
    }


async def test_bad_tag_filter_and_group_keys_are_refused(gql: Any, now: datetime) -> None:
    await _record(gql, [metric_sample(name=NAME)], now)
    errors = await gql.errors(AGGREGATE, {"name": NAME, "agg": "SUM", "tags": {"a": [1]}})
    assert "tags.a must be a string or a number" in errors[0].message
    errors = await gql.errors(AGGREGATE, {"name": NAME, "agg": "SUM", "by": ["a", "a"]})
    assert "distinct" in errors[0].message


async def test_tags_written_inline_filter_like_variables(gql: Any, now: datetime) -> None:
    rows = _samples(now)
    await _record(gql, rows, now)
    inline = f"""{{ metric(name: "{NAME}") {{ aggregate(aggregation: COUNT,
      range: {{from: "{iso(now - timedelta(hours=4))}", to: "{iso(now + timedelta(minutes=1))}"}},
      tags: {{method: "POST"}}, groupBy: ["route"]) {{ key tags value count }} }} }}"""
    kept = [r for r in rows if r["tags"]["method"] == "POST"]
    data = await gql(inline, now=now)
    assert data["metric"]["aggregate"] == _expected_groups(kept, ("route",), "COUNT")
