"""Endpoint-specific SQL: latency histograms, session lengths and configuration.

Metrics, breakdowns, timeseries and error reasons are ordinary aggregates
(db.compiler over db.facts.api_requests); these three need statements of
their own, built on the same declaration and the same WHERE clauses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Float, Integer, cast, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from db.compiler import AggregateQuery, where_clauses
from db.facts.api_requests import API_REQUESTS
from db.tables import api_requests as t
from db.tables import endpoints


@dataclass(frozen=True)
class LatencyBand:
    """Requests whose latency falls in [lower, lower + width)."""

    lower: float
    upper: float
    requests: int
    success_rate: float


@dataclass(frozen=True)
class HistogramQuestion:
    """Which requests to count, and the width of a latency band."""

    query: AggregateQuery
    width: float


async def latency_histograms(
    conn: AsyncConnection, question: HistogramQuestion, names: Sequence[str]
) -> dict[str, list[LatencyBand]]:
    """Per endpoint, requests by latency band k = floor(latency / width), ascending;
    only bands that have requests."""
    width = question.width
    # floor(latency / width) can be one band off in floating point (1869.8 / 0.1 gives
    # a band starting at 1869.8000000000002): step it so k*width <= latency < (k+1)*width.
    estimate = func.floor(t.c.latency_ms / width)
    band = (
        estimate
        - cast(estimate * width > t.c.latency_ms, Integer)
        + cast((estimate + 1) * width <= t.c.latency_ms, Integer)
    ).label("band")
    statement = (
        select(
            t.c.endpoint,
            band,
            API_REQUESTS.measures["requests"].expression.label("requests"),
            API_REQUESTS.measures["success_rate"].expression.label("success_rate"),
        )
        .where(*where_clauses(API_REQUESTS, question.query, names))
        .group_by(t.c.endpoint, band)
        .order_by(t.c.endpoint, band)
    )
    bands: dict[str, list[LatencyBand]] = {name: [] for name in names}
    for r in (await conn.execute(statement)).mappings():
        bands[r["endpoint"]].append(
            LatencyBand(
                r["band"] * width, (r["band"] + 1) * width, r["requests"], r["success_rate"]
            )
        )
    return bands


async def avg_session_seconds(
    conn: AsyncConnection, query: AggregateQuery, names: Sequence[str]
) -> dict[str, float | None]:
    """Per endpoint, the mean session length in seconds (last minus first request in the
    range) over its sessions; requests without a sessionId are ignored; None without
    sessions."""
    length = func.extract("epoch", func.max(t.c.ts) - func.min(t.c.ts))
    sessions = (
        select(t.c.endpoint, length.label("seconds"))
        .where(*where_clauses(API_REQUESTS, query, names), t.c.session_id.is_not(None))
        .group_by(t.c.endpoint, t.c.session_id)
        .subquery("sessions")
    )
    statement = select(sessions.c.endpoint, func.avg(cast(sessions.c.seconds, Float))).group_by(
        sessions.c.endpoint
    )
    averages = dict((await conn.execute(statement)).all())
    return {name: None if averages.get(name) is None else float(averages[name]) for name in names}


async def configure(conn: AsyncConnection, name: str, config: dict[str, Any]) -> RowMapping:
    """Set an endpoint's configuration, creating the endpoint when it was never seen;
    returns its catalog row."""
    values = {**config, "configured_at": datetime.now(UTC)}
    statement = insert(endpoints).values(name=name, **values)
    statement = statement.on_conflict_do_update(
        index_elements=[endpoints.c.name], set_={key: statement.excluded[key] for key in values}
    )
    return (await conn.execute(statement.returning(*endpoints.c))).mappings().one()
