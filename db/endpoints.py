"""Endpoint-specific SQL: latency histograms, session lengths and configuration.

Metrics, breakdowns, timeseries and error reasons are ordinary aggregates
(db.compiler over db.facts.api_requests); these three need statements of
their own, built on the same declaration and the same WHERE clauses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Float, cast, func, select
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


async def latency_histogram(
    conn: AsyncConnection, name: str, query: AggregateQuery, width: float
) -> list[LatencyBand]:
    """Requests of the endpoint by latency band k = floor(latency / width), ascending;
    only bands that have requests."""
    band = func.floor(t.c.latency_ms / width).label("band")
    statement = (
        select(
            band,
            API_REQUESTS.measures["requests"].expression.label("requests"),
            API_REQUESTS.measures["success_rate"].expression.label("success_rate"),
        )
        .where(*where_clauses(API_REQUESTS, query, [name]))
        .group_by(band)
        .order_by(band)
    )
    rows = (await conn.execute(statement)).mappings()
    return [
        LatencyBand(r["band"] * width, (r["band"] + 1) * width, r["requests"], r["success_rate"])
        for r in rows
    ]


async def avg_session_seconds(
    conn: AsyncConnection, name: str, query: AggregateQuery
) -> float | None:
    """Mean session length in seconds (last minus first request in the range) over the
    endpoint's sessions; requests without a sessionId are ignored; None without sessions."""
    length = func.extract("epoch", func.max(t.c.ts) - func.min(t.c.ts))
    sessions = (
        select(length.label("seconds"))
        .where(*where_clauses(API_REQUESTS, query, [name]), t.c.session_id.is_not(None))
        .group_by(t.c.session_id)
        .subquery("sessions")
    )
    average = (await conn.execute(select(func.avg(cast(sessions.c.seconds, Float))))).scalar_one()
    return None if average is None else float(average)


async def configure(conn: AsyncConnection, name: str, config: dict[str, Any]) -> RowMapping:
    """Set an endpoint's configuration, creating the endpoint when it was never seen;
    returns its catalog row."""
    values = {**config, "configured_at": datetime.now(UTC)}
    statement = insert(endpoints).values(name=name, **values)
    statement = statement.on_conflict_do_update(
        index_elements=[endpoints.c.name], set_={key: statement.excluded[key] for key in values}
    )
    return (await conn.execute(statement.returning(*endpoints.c))).mappings().one()
