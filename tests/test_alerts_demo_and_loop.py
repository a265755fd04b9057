"""The demo's alerts, and the evaluation loop a served gateway runs on its own."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from db.ingest.api_requests import API_REQUEST
from gateway.app import create_app
from gateway.demo import alerts as demo_alerts
from gateway.demo import endpoints as demo_endpoints
from gateway.demo import ingest_all
from tests.factories import api_request, ingest_api_requests, percentile_cont
from tests.live_client import served

STATES = "{ alerts { name state lastValue } }"


async def test_demo_alerts_one_fires_on_the_demo_data(db, gql, now):
    rows = demo_endpoints.generate(now)

    def window(name: str, minutes: int) -> list[dict]:
        start = now - timedelta(minutes=minutes)
        return [r for r in rows if r["endpoint"] == name and start <= r["timestamp"] < now]

    # The demo's requests that the two alerts look at (the rest cannot change them).
    payments = window("/api/payments", 24 * 60)
    search = window("/api/search", 60)
    await ingest_all(db, API_REQUEST, payments + search, now)
    await demo_alerts.load(db, now)
    again = await demo_alerts.load(db, now)  # reloading adds no second copy
    alerts = {a["name"]: a for a in (await gql(STATES))["alerts"]}
    assert len(alerts) == len(demo_alerts.DEMO_ALERTS)
    assert "FIRING" in again

    rate = sum(1 for r in payments if not 200 <= r["statusCode"] < 400) / len(payments)
    search_p95 = percentile_cont([r["latencyMs"] for r in search], 0.95)
    fired = alerts["payments error rate above 5%"]
    quiet = alerts["search P95 latency above 2 s"]
    assert rate > 0.05
    assert fired["state"] == "FIRING"
    assert abs(fired["lastValue"] - rate) < 1e-9
    assert search_p95 < 2000
    assert quiet["state"] == "OK"
    assert abs(quiet["lastValue"] - search_p95) < 1e-6


async def test_a_served_gateway_evaluates_alerts_every_interval(db, settings, gql, now):
    await ingest_api_requests(gql, [api_request(now, endpoint="/loop", statusCode=500)], now)
    rule = {
        "name": "loop",
        "target": "ENDPOINT",
        "targetId": "/loop",
        "measure": "errorRate",
        "threshold": 0.5,
    }
    await gql(
        "mutation($input: AlertInput!) { createAlert(input: $input) { id } }", {"input": rule}
    )
    app = create_app(db, settings.model_copy(update={"alert_interval": 0.2}), owns_database=False)
    async with served(app):
        for _ in range(100):
            [alert] = (await gql("{ alerts { state lastEvaluatedAt } }"))["alerts"]
            if alert["state"] == "FIRING":
                break
            await asyncio.sleep(0.05)
    assert alert["state"] == "FIRING"
    assert datetime.fromisoformat(alert["lastEvaluatedAt"]) >= now
