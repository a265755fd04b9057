"""Demo API request logs: a few endpoints over eight days, with two stories.

The first seven days are calm; in the last 24 hours (the default window of
insights, whose default baseline is the week before) two things break in
ap-south: a third of /api/search requests there take eight times as long, and
/api/payments starts declining cards (CARD_DECLINED, always its most common
failure). Every endpoint is configured, so businessImpact shows numbers.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from db.endpoints import configure
from db.engine import Database
from db.ingest.api_requests import API_REQUEST

# name -> (avgOrderValue, costPerRequest, revenueCritical, error rate, median latency ms)
ENDPOINTS = {
    "/api/payments": (42.0, 0.004, True, 0.02, 180.0),
    "/api/search": (3.5, 0.0008, False, 0.01, 90.0),
    "/api/users": (0.0, 0.0005, False, 0.015, 45.0),
    "/api/documents": (1.2, 0.002, False, 0.02, 120.0),
}
REGIONS = [("us-east", 40), ("eu-west", 30), ("ap-south", 20), ("sa-east", 10)]
DEVICES = [("desktop", 55), ("mobile", 40), ("tablet", 5)]
DOCUMENTS = [("invoice", 40), ("receipt", 35), ("contract", 20), (None, 5)]
METHODS = [("GET", 70), ("POST", 25), ("PUT", 5)]
FAILURES = [(500, "INTERNAL_ERROR", 30), (503, "UPSTREAM_TIMEOUT", 30), (429, "RATE_LIMITED", 20)]
FAILURES += [(404, "NOT_FOUND", 20)]
PAYMENT_FAILURES = [(402, "CARD_DECLINED", 75), (500, "INTERNAL_ERROR", 15)]
PAYMENT_FAILURES += [(503, "UPSTREAM_TIMEOUT", 10)]
SLOW_REGION, SLOW_ENDPOINT = "ap-south", "/api/search"
DECLINING_REGION, DECLINING_ENDPOINT = "ap-south", "/api/payments"
INCIDENT = timedelta(hours=24)  # both stories happen in the last day only
SLOW_SHARE, SLOWDOWN = 0.35, 8.0  # of SLOW_ENDPOINT's requests from SLOW_REGION
DECLINE_RATE = 0.4  # extra CARD_DECLINED failures of DECLINING_ENDPOINT in DECLINING_REGION
DAYS = 8
REQUESTS_PER_ENDPOINT = 8_000


def _pick(rng: random.Random, weighted: list[tuple[Any, ...]]) -> Any:
    return rng.choices([w[:-1] for w in weighted], weights=[w[-1] for w in weighted])[0]


def _request(rng: random.Random, day: str, name: str, n: int, now: datetime) -> dict[str, Any]:
    _, _, _, error_rate, median = ENDPOINTS[name]
    (region,) = _pick(rng, REGIONS)
    age = timedelta(seconds=rng.uniform(0, DAYS * 86400))
    incident = age < INCIDENT
    status, reason = 200, None
    if rng.random() < error_rate:
        status, reason = _pick(rng, PAYMENT_FAILURES if name == "/api/payments" else FAILURES)
    declining = (name, region) == (DECLINING_ENDPOINT, DECLINING_REGION)
    if incident and declining and rng.random() < DECLINE_RATE:
        status, reason = 402, "CARD_DECLINED"
    slow = incident and (name, region) == (SLOW_ENDPOINT, SLOW_REGION) and rng.random() < SLOW_SHARE
    return {
        "requestId": f"demo-{day}-{name}-{n}",
        "timestamp": now - age,
        "endpoint": name,
        "method": _pick(rng, METHODS)[0],
        "statusCode": status,
        "latencyMs": round(rng.lognormvariate(0, 0.5) * median * (SLOWDOWN if slow else 1.0), 1),
        "region": region,
        "deviceType": _pick(rng, DEVICES)[0],
        "documentType": _pick(rng, DOCUMENTS)[0],
        "errorReason": reason,
        "userId": f"user-{rng.randrange(2_000):04d}" if rng.random() < 0.9 else None,
        "sessionId": f"s-{rng.randrange(3_000)}",
    }


def generate(now: datetime, seed: int = 11) -> list[dict[str, Any]]:
    """Deterministic requests for one day's demo, as ApiRequestInput objects."""
    rng = random.Random(seed)
    day = now.date().isoformat()
    return [
        _request(rng, day, name, n, now) for name in ENDPOINTS for n in range(REQUESTS_PER_ENDPOINT)
    ]


async def load(db: Database, now: datetime) -> str:
    """Store the demo API requests and configure every demo endpoint."""
    from gateway.demo import describe, ingest_all

    outcome = await ingest_all(db, API_REQUEST, generate(now), now)
    async with db.write() as conn:
        for name, (order_value, unit_cost, critical, _, _) in ENDPOINTS.items():
            await configure(
                conn,
                name,
                {
                    "avg_order_value": order_value,
                    "cost_per_request": unit_cost,
                    "revenue_critical": critical,
                },
            )
    return describe(f"API requests ({len(ENDPOINTS)} endpoints, {DAYS} days)", outcome)
