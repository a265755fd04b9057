"""Builders for the rows tests ingest, with unique ids and sensible defaults."""

from __future__ import annotations

import itertools
import math
import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

_ids = itertools.count(1)

# The admin secret of every test gateway (the `settings` fixture). HTTP and
# websocket tests send it (`ADMIN_HEADERS`, or {"Authorization": "Bearer ..."}
# in connection_init); tests of refusals send something else on purpose.
ADMIN_SECRET = "test-admin-secret-0123456789abcdef"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_SECRET}"}


def iso(value: datetime) -> str:
    """A datetime as the DateTime scalar takes it."""
    return value.isoformat()


def product_event(at: datetime, **fields: Any) -> dict[str, Any]:
    """A ProductEventInput (camelCase) at `at`; fields override the defaults."""
    row: dict[str, Any] = {
        "eventId": f"e-{next(_ids)}",
        "timestamp": iso(at),
        "productId": "shop",
        "eventType": "page_view",
    }
    row.update(fields)
    return row


INGEST_PRODUCT_EVENTS = """
mutation($events: [ProductEventInput!]!) {
  ingestProductEvents(events: $events) { accepted duplicates rejected { index field message } }
}
"""


# ------------------------------------------------------------------ product vertical

PRODUCT_METRIC_FIELDS = (
    "totalEvents errorCount errorRate uniqueUsers avgPageLoadTimeMs p95PageLoadTimeMs "
    "avgApiLatencyMs p95ApiLatencyMs avgDurationMs"
)


def product_events_mix(now: datetime, count: int = 60, seed: int = 7, **fields: Any) -> list[dict]:
    """`count` varied events within the 20 hours before now: every optional field
    is sometimes null, error codes are sometimes empty, timestamps repeat."""
    pick = random.Random(seed)
    rows = []
    for n in range(count):
        code = pick.choice([None, "", "E_TIMEOUT", "E_TIMEOUT", "E_AUTH", "E_500"])
        row = product_event(
            now - timedelta(minutes=pick.randrange(1, 20 * 60), seconds=pick.choice([0, 30])),
            eventType=pick.choice(["page_view", "page_view", "click", "purchase"]),
            userId=pick.choice([None, "u1", "u2", "u3", "u4", "u5"]),
            sessionId=f"s{n % 7}",
            durationMs=pick.choice([None, round(pick.uniform(0, 5000), 3)]),
            pageLoadTimeMs=pick.choice([None, round(pick.uniform(50, 3000), 3)]),
            apiLatencyMs=pick.choice([None, round(pick.uniform(1, 900), 3)]),
            errorCode=code,
            isError=pick.choice([None, None, None, True, False]),
            source=pick.choice([None, "web", "ios", "android"]),
            deviceType=pick.choice([None, "desktop", "mobile", "tablet"]),
            country=pick.choice([None, "us", "de", "fr", "br"]),
        )
        row.update(fields)
        rows.append(row)
    return rows


def at(row: dict[str, Any]) -> datetime:
    """The timestamp of an input row as a datetime."""
    return datetime.fromisoformat(row["timestamp"])


def is_error(row: dict[str, Any]) -> bool:
    """The stored isError of an input row: given, or derived from a non-empty errorCode."""
    given = row.get("isError")
    return bool(row.get("errorCode")) if given is None else bool(given)


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """Continuous percentile with linear interpolation (numpy's default); None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def expected_product_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """ProductMetrics over input rows, computed from the contract's definitions."""
    errors = sum(1 for r in rows if is_error(r))

    def present(name: str) -> list[float]:
        return [r[name] for r in rows if r.get(name) is not None]

    return {
        "totalEvents": len(rows),
        "errorCount": errors,
        "errorRate": errors / len(rows) if rows else 0.0,
        "uniqueUsers": len({r["userId"] for r in rows if r.get("userId") is not None}),
        "avgPageLoadTimeMs": _mean(present("pageLoadTimeMs")),
        "p95PageLoadTimeMs": percentile_cont(present("pageLoadTimeMs"), 0.95),
        "avgApiLatencyMs": _mean(present("apiLatencyMs")),
        "p95ApiLatencyMs": percentile_cont(present("apiLatencyMs"), 0.95),
        "avgDurationMs": _mean(present("durationMs")),
    }


# Percentiles come from rollup sketches within 1% relative error (README, Rollups).
PERCENTILE_TOLERANCE = 0.01


def percentile_span(value: float) -> tuple[float, float]:
    """Where a non-negative percentile answered within the sketch bound may lie."""
    return value * (1 - PERCENTILE_TOLERANCE), value * (1 + PERCENTILE_TOLERANCE)


def change_span(current: float, baseline: float) -> tuple[float, float]:
    """Where current / baseline - 1 may lie when both percentiles are within the bound."""
    (c_low, c_high), (b_low, b_high) = percentile_span(current), percentile_span(baseline)
    return c_low / b_high - 1, c_high / b_low - 1


def within(value: float, span: tuple[float, float]) -> bool:
    """Whether value lies in span, give or take float rounding."""
    low, high = span
    return low - 1e-9 * abs(low) <= value <= high + 1e-9 * abs(high)


def approx_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Expected metrics with floats compared approximately, percentiles within 1%."""
    return {
        name: approx_measure(name, value) if isinstance(value, float) else value
        for name, value in metrics.items()
    }


def approx_measure(name: str, value: float) -> Any:
    """A float measure as compared: percentiles (p50..., p95...) within the sketch bound."""
    if re.fullmatch(r"p\d+.*", name):
        return pytest.approx(value, rel=PERCENTILE_TOLERANCE)
    return pytest.approx(value)


async def ingest_product_events(gql: Any, events: list[dict], now: datetime) -> dict[str, Any]:
    """Ingest events that must all be accepted; returns the IngestResult."""
    result = (await gql(INGEST_PRODUCT_EVENTS, {"events": events}, now=now))["ingestProductEvents"]
    assert result["rejected"] == [], result["rejected"]
    return result


def product_query(fields: str) -> str:
    """A document selecting `fields` on product(id: $id); $range and $filter are declared
    when fields use them."""
    declared = {"$range": "TimeRange", "$filter": "ProductEventFilter"}
    variables = "".join(f", {name}: {kind}" for name, kind in declared.items() if name in fields)
    return f"query($id: ID!{variables}) {{ product(id: $id) {{ {fields} }} }}"


# ------------------------------------------------------------------ custom metrics and bulk load


def metric_sample(**fields: Any) -> dict[str, Any]:
    """A MetricSampleInput (camelCase); fields override the defaults."""
    row: dict[str, Any] = {"name": "checkout.latency", "type": "TIMER", "value": 12.5}
    row.update(fields)
    return row


RECORD_METRICS = """
mutation($samples: [MetricSampleInput!]!) {
  recordMetrics(samples: $samples) { accepted duplicates rejected { index field message } }
}
"""


def ndjson(rows: list[Any]) -> str:
    """Rows as NDJSON text; a str item is written as the line itself (for bad lines)."""
    import json

    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


# ------------------------------------------------------------------ model vertical

INGEST_PREDICTIONS = """
mutation($predictions: [PredictionInput!]!) {
  ingestPredictions(predictions: $predictions) {
    accepted duplicates rejected { index field message }
  }
}
"""

RECORD_ACTUALS = """
mutation($actuals: [ActualInput!]!) {
  recordActuals(actuals: $actuals) { accepted duplicates rejected { index field message } }
}
"""

MODEL_METRIC_FIELDS = "predictionCount labeledCount rmse mae mape bias avgPredicted avgActual"


def prediction(at: datetime, predicted: float, actual: float | None = None, **fields: Any) -> dict:
    """A PredictionInput (camelCase) of model "eta" v1 in production; fields override."""
    row: dict[str, Any] = {
        "predictionId": f"p-{next(_ids)}",
        "timestamp": iso(at),
        "modelId": "eta",
        "modelVersion": "v1",
        "predictedValue": predicted,
        "actualValue": actual,
    }
    row.update(fields)
    return row


async def ingest_predictions(gql: Any, rows: list[dict], now: datetime) -> dict[str, Any]:
    """Ingest predictions that must all be accepted; returns the IngestResult."""
    result = (await gql(INGEST_PREDICTIONS, {"predictions": rows}, now=now))["ingestPredictions"]
    assert result["rejected"] == [], result["rejected"]
    return result


def regression_metrics(pairs: list[tuple[float, float | None]]) -> dict[str, Any]:
    """ModelMetrics of (predicted, actual) pairs, computed the plain way."""
    labeled = [(p, a) for p, a in pairs if a is not None]
    errors = [p - a for p, a in labeled]
    relative = [abs(p - a) / abs(a) for p, a in labeled if a != 0]
    squared = _mean([e * e for e in errors])
    return {
        "predictionCount": len(pairs),
        "labeledCount": len(labeled),
        "rmse": None if squared is None else math.sqrt(squared),
        "mae": _mean([abs(e) for e in errors]),
        "mape": _mean(relative),
        "bias": _mean(errors),
        "avgPredicted": _mean([p for p, _ in pairs]),
        "avgActual": _mean([a for _, a in labeled]),
    }


def population_stability(historical: list[float], recent: list[float]) -> float:
    """PSI over 10 bins cut at the historical deciles, (q[i-1], q[i]], shares floored."""
    cuts = [percentile_cont(historical, i / 10) or 0.0 for i in range(1, 10)]

    def shares(values: list[float]) -> list[float]:
        counts = [0] * 10
        for value in values:
            counts[sum(1 for cut in cuts if value > cut)] += 1
        return [max(count / len(values), 0.0001) for count in counts]

    return sum(
        (r - h) * math.log(r / h) for h, r in zip(shares(historical), shares(recent), strict=True)
    )


# ------------------------------------------------------------------ endpoint vertical

INGEST_API_REQUESTS = """
mutation($requests: [ApiRequestInput!]!) {
  ingestApiRequests(requests: $requests) { accepted duplicates rejected { index field message } }
}
"""

ENDPOINT_METRIC_FIELDS = (
    "requests successCount errorCount successRate errorRate avgLatencyMs p50LatencyMs "
    "p95LatencyMs p99LatencyMs maxLatencyMs topErrorReason uniqueUsers"
)


def api_request(at: datetime, **fields: Any) -> dict[str, Any]:
    """An ApiRequestInput (camelCase) to /api/orders at `at`; fields override the defaults."""
    row: dict[str, Any] = {
        "requestId": f"r-{next(_ids)}",
        "timestamp": iso(at),
        "endpoint": "/api/orders",
        "statusCode": 200,
        "latencyMs": 50.0,
    }
    row.update(fields)
    return row


def api_requests_mix(now: datetime, count: int = 80, seed: int = 5, **fields: Any) -> list[dict]:
    """`count` varied requests within the 20 hours before now: every optional field is
    sometimes null, status codes span successes, redirects and errors."""
    pick = random.Random(seed)
    rows = []
    for n in range(count):
        row = api_request(
            now - timedelta(minutes=pick.randrange(1, 20 * 60), seconds=pick.choice([0, 30])),
            method=pick.choice(["GET", "GET", "POST", "PUT"]),
            statusCode=pick.choice([200, 200, 201, 204, 301, 399, 400, 404, 429, 500, 503, 199]),
            latencyMs=round(pick.uniform(0, 1500), 3),
            region=pick.choice([None, "us-east", "eu-west", "ap-south"]),
            deviceType=pick.choice([None, "desktop", "mobile"]),
            documentType=pick.choice([None, "invoice", "receipt", ""]),
            errorReason=pick.choice([None, "", "TIMEOUT", "TIMEOUT", "DB_DOWN", "AUTH"]),
            userId=pick.choice([None, "u1", "u2", "u3", "u4"]),
            sessionId=pick.choice([None, f"s{n % 5}"]),
        )
        row.update(fields)
        rows.append(row)
    return rows


def succeeded(row: dict[str, Any]) -> bool:
    """The contract's success rule: 200 <= statusCode < 400."""
    return 200 <= row["statusCode"] < 400


def expected_endpoint_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """EndpointMetrics over input rows, computed from the contract's definitions."""
    successes = sum(1 for r in rows if succeeded(r))
    latencies = [float(r["latencyMs"]) for r in rows]
    reasons = [r["errorReason"] for r in rows if not succeeded(r) and r.get("errorReason")]
    counts = {reason: reasons.count(reason) for reason in reasons}
    top = min(counts, key=lambda reason: (-counts[reason], reason)) if counts else None
    return {
        "requests": len(rows),
        "successCount": successes,
        "errorCount": len(rows) - successes,
        "successRate": successes / len(rows) if rows else 0.0,
        "errorRate": (len(rows) - successes) / len(rows) if rows else 0.0,
        "avgLatencyMs": _mean(latencies),
        "p50LatencyMs": percentile_cont(latencies, 0.5),
        "p95LatencyMs": percentile_cont(latencies, 0.95),
        "p99LatencyMs": percentile_cont(latencies, 0.99),
        "maxLatencyMs": max(latencies) if latencies else None,
        "topErrorReason": top,
        "uniqueUsers": len({r["userId"] for r in rows if r.get("userId") is not None}),
    }


async def ingest_api_requests(gql: Any, rows: list[dict], now: datetime) -> dict[str, Any]:
    """Ingest requests that must all be accepted; returns the IngestResult."""
    result = (await gql(INGEST_API_REQUESTS, {"requests": rows}, now=now))["ingestApiRequests"]
    assert result["rejected"] == [], result["rejected"]
    return result


def endpoint_query(fields: str) -> str:
    """A document selecting `fields` on endpoint(name: $name); $range and $filter are
    declared when fields use them."""
    declared = {"$range": "TimeRange", "$filter": "ApiRequestFilter"}
    variables = "".join(f", {name}: {kind}" for name, kind in declared.items() if name in fields)
    return f"query($name: String!{variables}) {{ endpoint(name: $name) {{ {fields} }} }}"


CONFIGURE_ENDPOINT = """
mutation($input: EndpointConfigInput!) {
  configureEndpoint(input: $input) {
    name firstSeen lastSeen config { avgOrderValue costPerRequest revenueCritical }
  }
}
"""


# ------------------------------------------------------------------ insights

ENDPOINT_DIMENSIONS = {
    "REGION": "region",
    "DEVICE_TYPE": "deviceType",
    "DOCUMENT_TYPE": "documentType",
    "STATUS_CODE": "statusCode",
    "METHOD": "method",
}
PRODUCT_DIMENSIONS = {
    "COUNTRY": "country",
    "DEVICE_TYPE": "deviceType",
    "EVENT_TYPE": "eventType",
    "SOURCE": "source",
}
INSIGHT_FIELDS = """
target targetId measure direction severity current baseline change
causes { dimension value current baseline share contribution }
message recommendation
"""


def request_block(now, age, count, errors=0, reasons=("TIMEOUT",), latency=None, **fields):
    """count requests `age` before now, the first `errors` failed. Devices, documents,
    methods and failure codes are spread evenly (i % 4) among failures and among
    successes, so only the fields given here tell slices apart."""
    rows = []
    for i in range(count):
        failed = i < errors
        k = i if failed else i - errors
        row = api_request(
            now - age - timedelta(seconds=i),
            statusCode=(500, 502, 503, 504)[k % 4] if failed else 200,
            errorReason=reasons[i % len(reasons)] if failed else None,
            deviceType=("desktop", "mobile", "tablet", "tv")[k % 4],
            documentType=("invoice", "receipt", "contract", "report")[k % 4],
            method=("GET", "POST", "PUT", "DELETE")[k % 4],
            latencyMs=50.0 if latency is None else latency(i),
        )
        rows.append(row | fields)
    return rows


def slice_value(row: dict[str, Any], field: str) -> str:
    """A row's value of a dimension as breakdowns show it ("" for null, decimal numbers)."""
    value = row.get(field, "GET" if field == "method" else None)
    return "" if value is None else str(value)


def error_rate_of(rows: list[dict[str, Any]], failed: Any) -> float | None:
    """errors / rows of input rows, None without rows."""
    return sum(1 for r in rows if failed(r)) / len(rows) if rows else None


def expected_causes(
    now: list[dict[str, Any]],
    then: list[dict[str, Any]],
    dimensions: dict[str, str],
    level: Any,
    failed: Any = None,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Every InsightCause with contribution > 0 in the contract's order, and each
    dimension's summed contribution over all its slices.

    level(rows) is the measure over rows (None when it has no value); failed(row),
    given for errorRate, makes contributions the additive error-count formula.
    """
    current, baseline = level(now), level(then)
    delta = current - baseline
    causes, sums = [], {}
    for dimension, field in dimensions.items():
        values = sorted({slice_value(r, field) for r in now + then})
        sums[dimension] = 0.0
        for value in values:
            s_now = [r for r in now if slice_value(r, field) == value]
            s_then = [r for r in then if slice_value(r, field) == value]
            share = len(s_now) / len(now)
            slice_now, slice_then = level(s_now), level(s_then)
            if failed is not None:
                errors_now = sum(1 for r in s_now if failed(r))
                errors_then = sum(1 for r in s_then if failed(r))
                contribution = (errors_now / len(now) - errors_then / len(then)) / delta
            elif slice_now is None:
                contribution = 0.0
            else:
                reference = baseline if slice_then is None else slice_then
                contribution = share * (slice_now - reference) / delta
            sums[dimension] += contribution
            if contribution > 1e-12:
                causes.append(
                    {
                        "dimension": dimension,
                        "value": value,
                        "current": slice_now,
                        "baseline": slice_then,
                        "share": share,
                        "contribution": contribution,
                    }
                )
    causes.sort(key=lambda c: (-round(c["contribution"], 9), c["dimension"], c["value"]))
    return causes, sums


# ------------------------------------------------------------------ access

CREATE_TOKEN = """
mutation($input: ApiTokenInput!) {
  createApiToken(input: $input) {
    secret token { id name scopes resourceIds createdAt expiresAt lastUsedAt }
  }
}
"""


async def create_token(client: Any, **fields: Any) -> tuple[str, dict[str, Any]]:
    """An API token made over HTTP with the admin secret: (secret, token fields)."""
    given: dict[str, Any] = {"name": "test", "scopes": ["READ"], **fields}
    response = await client.post(
        "/graphql",
        json={"query": CREATE_TOKEN, "variables": {"input": given}},
        headers=ADMIN_HEADERS,
    )
    body = response.json()
    assert "errors" not in body, body
    created = body["data"]["createApiToken"]
    return created["secret"], created["token"]


def bearer(secret: str) -> dict[str, str]:
    """The Authorization header of a secret."""
    return {"Authorization": f"Bearer {secret}"}


# ------------------------------------------------------------------ events API (Tinybird)


def tinybird(at: datetime) -> str:
    """A timestamp as Tinybird's Events API takes it: `YYYY-MM-DD HH:MM:SS`, UTC."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def snake(row: dict) -> dict:
    """A camelCase input object with snake_case keys, as a Tinybird sender writes it."""
    return {"".join("_" + c.lower() if c.isupper() else c for c in k): v for k, v in row.items()}
