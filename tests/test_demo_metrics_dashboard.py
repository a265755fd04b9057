"""The demo's custom metrics and its public dashboard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.demo import dashboard as demo_dashboard
from gateway.demo import metrics as demo_metrics

DATA = "{ dashboards { name isPublic widgets { title visualization data } } }"


async def test_demo_records_metrics_once_a_day(db: Any, now: datetime) -> None:
    first = await demo_metrics.load(db, now)
    again = await demo_metrics.load(db, now)
    total = 3 * demo_metrics.SAMPLES_PER_METRIC
    assert f": {total} stored, 0 already there, 0 rejected" in first
    assert f": 0 stored, {total} already there, 0 rejected" in again


async def test_demo_dashboard_is_public_and_draws_every_kind(
    db: Any, settings: Any, gql: Any, now: datetime
) -> None:
    await demo_metrics.load(db, now)
    await demo_dashboard.save(db, settings)
    await demo_dashboard.save(db, settings)
    [board] = (await gql(DATA, now=now))["dashboards"]
    assert board["name"] == demo_dashboard.NAME
    assert board["isPublic"] is True
    roots = {next(iter(w["data"])) for w in board["widgets"]}
    assert roots == {"product", "products", "endpoint", "model", "metric"}
    assert {w["visualization"]["type"] for w in board["widgets"]} == {"line", "bar", "tile"}
    by_title = {w["title"]: w["data"] for w in board["widgets"]}
    series = by_title["HTTP p95 duration by method, hourly (ms)"]["metric"]["series"]
    assert len(series) >= 23
    assert {g["key"] for point in series for g in point["groups"]} == {"GET", "POST"}
    orders = by_title["Orders placed by region, last 24 h"]["metric"]["aggregate"]
    assert [g["key"] for g in orders] != []
    assert [g["value"] for g in orders] == sorted((g["value"] for g in orders), reverse=True)
