"""The benchmark's questions: each as a contract query over HTTP and as plain SQL.

Every call asks about a different range (a random, unaligned start inside the
generated span), so no answer can come from a cache of the previous one.
Drift's windows end at the server's clock, so its calls rotate over models.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bench.generate import DAYS, ENDPOINTS, MODELS, PRODUCTS

Params = dict[str, Any]


@dataclass(frozen=True)
class Question:
    """One benchmark row: a GraphQL document and SQL over the raw table, same parameters."""

    name: str
    graphql: str
    sql: str
    params: Callable[[random.Random, datetime, int], Params]


def _window(days: int) -> Callable[[random.Random, datetime, int], Params]:
    """A `days`-long range starting at a random second inside the generated span."""

    def params(pick: random.Random, end: datetime, call: int) -> Params:
        slack = max(DAYS - days, 1) * 86_400
        start = end - timedelta(days=days, seconds=pick.randrange(slack))
        return {
            "from": start,
            "to": start + timedelta(days=days),
            "product": PRODUCTS[0],
            "endpoint": ENDPOINTS[0],
            "model": MODELS[call % len(MODELS)],
            "products": PRODUCTS[:20],
        }

    return params


_RANGE = '{from: "%(from_iso)s", to: "%(to_iso)s"}'
_WHERE = "ts >= %(from)s AND ts < %(to)s"
_OVERVIEW_SQL = (
    "SELECT count(*), count(*) FILTER (WHERE is_error)::float8 / nullif(count(*), 0),"
    " percentile_cont(0.95) WITHIN GROUP (ORDER BY page_load_time_ms),"
    " avg(api_latency_ms), count(DISTINCT user_id)"
)
_OVERVIEW_FIELDS = "totalEvents errorRate p95PageLoadTimeMs avgApiLatencyMs uniqueUsers"


def _product_questions(days: int) -> list[Question]:
    window = _window(days)
    product = '{ product(id: "%(product)s") { '
    return [
        Question(
            f"product overview, {days} d",
            product + "overview(range: " + _RANGE + ") { " + _OVERVIEW_FIELDS + " } } }",
            _OVERVIEW_SQL + " FROM product_events WHERE product_id = %(product)s AND " + _WHERE,
            window,
        ),
        Question(
            f"breakdown by country, {days} d",
            product + "breakdown(by: COUNTRY, range: " + _RANGE + ") "
            "{ value metrics { totalEvents errorRate avgPageLoadTimeMs } } } }",
            "SELECT country, count(*), count(*) FILTER (WHERE is_error)::float8 / count(*),"
            " avg(page_load_time_ms) FROM product_events WHERE product_id = %(product)s AND "
            + _WHERE
            + " GROUP BY country ORDER BY count(*) DESC, country LIMIT 50",
            window,
        ),
        Question(
            f"hourly timeseries, {days} d",
            product + "timeseries(granularity: HOUR, range: " + _RANGE + ") "
            "{ bucket metrics { totalEvents errorRate } } } }",
            "SELECT date_trunc('hour', ts), count(*),"
            " count(*) FILTER (WHERE is_error)::float8 / count(*)"
            " FROM product_events WHERE product_id = %(product)s AND "
            + _WHERE
            + " GROUP BY 1 ORDER BY 1",
            window,
        ),
    ]


QUESTIONS = [
    *_product_questions(7),
    *_product_questions(30),
    Question(
        "products(first: 20) with overviews, 7 d",
        "{ products(first: 20) { nodes { id overview(range: "
        + _RANGE
        + ") { "
        + _OVERVIEW_FIELDS
        + " } } } }",
        "SELECT product_id, count(*), count(*) FILTER (WHERE is_error)::float8 / count(*),"
        " percentile_cont(0.95) WITHIN GROUP (ORDER BY page_load_time_ms),"
        " avg(api_latency_ms), count(DISTINCT user_id) FROM product_events"
        " WHERE product_id = ANY(%(products)s) AND " + _WHERE + " GROUP BY product_id",
        _window(7),
    ),
    Question(
        "endpoint stats p50/p95/p99, 7 d",
        '{ endpoint(name: "%(endpoint)s") { stats(range: ' + _RANGE + ") { requests successRate"
        " avgLatencyMs p50LatencyMs p95LatencyMs p99LatencyMs } } }",
        "SELECT count(*), count(*) FILTER (WHERE status_code >= 200 AND status_code < 400)::float8"
        " / count(*), avg(latency_ms), percentile_cont(array[0.5, 0.95, 0.99])"
        " WITHIN GROUP (ORDER BY latency_ms) FROM api_requests"
        " WHERE endpoint = %(endpoint)s AND " + _WHERE,
        _window(7),
    ),
    Question(
        "model drift (6 h against 168 h)",
        '{ model(id: "%(model)s") { drift { rmseChange maeChange predictionPsi isDrifting'
        " recent { rmse } historical { rmse } } } }",
        "WITH w AS (SELECT predicted_value AS p, actual_value AS a,"
        " ts >= now() - interval '6 hours' AS recent FROM predictions"
        " WHERE model_id = %(model)s AND environment = 'production'"
        " AND ts >= now() - interval '168 hours' AND ts < now()),"
        " cuts AS (SELECT percentile_cont(array[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9])"
        " WITHIN GROUP (ORDER BY p) AS c FROM w WHERE NOT recent)"
        " SELECT recent, width_bucket(p, (SELECT c FROM cuts)) AS bin, count(*),"
        " sum((p - a) ^ 2), sum(abs(p - a)), count(a) FROM w GROUP BY 1, 2",
        _window(7),
    ),
]


def render(question: Question, params: Params) -> str:
    """The GraphQL document of one call."""
    values = {**params, "from_iso": params["from"].isoformat(), "to_iso": params["to"].isoformat()}
    return question.graphql % values
