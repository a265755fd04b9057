"""Model-specific SQL: version and environment lists, and the PSI of drift.

Drift's recent and historical metrics are ordinary aggregates (db.compiler);
only the population stability index needs its own statement, which cuts the
historical predictions at their deciles and compares bin shares in SQL.
"""

from __future__ import annotations

from datetime import datetime
from functools import reduce
from typing import Any

from sqlalchemy import Float, Integer, case, cast, func, null, select, true, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from db.compiler import AggregateQuery, FilterValues, where_clauses
from db.facts.predictions import PREDICTIONS
from db.tables import model_versions
from db.tables import predictions as t

DECILES = [round(0.1 * i, 1) for i in range(1, 10)]
# An empty bin would make ln(r / h) infinite; the contract floors every share here.
SHARE_FLOOR = 0.0001


async def versions(conn: AsyncConnection, model_id: str) -> list[str]:
    """Versions seen in any environment, newest first by their latest prediction, then name."""
    latest = func.max(model_versions.c.last_seen)
    statement = (
        select(model_versions.c.version)
        .where(model_versions.c.model_id == model_id)
        .group_by(model_versions.c.version)
        .order_by(latest.desc(), model_versions.c.version)
    )
    return list((await conn.execute(statement)).scalars())


async def environments(conn: AsyncConnection, model_id: str) -> list[str]:
    """Environments the model has predicted in, by name."""
    statement = (
        select(model_versions.c.environment)
        .where(model_versions.c.model_id == model_id)
        .distinct()
        .order_by(model_versions.c.environment)
    )
    return list((await conn.execute(statement)).scalars())


def _deciles(value: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.percentile_cont(array(DECILES)).within_group(value)


def _bin(value: ColumnElement[Any], cuts: ColumnElement[Any]) -> ColumnElement[int]:
    """1..10: bin i holds (q[i-1], q[i]], with open outer ends."""
    above = [cast(value > cuts[i], Integer) for i in range(1, len(DECILES) + 1)]
    return reduce(lambda total, term: total + term, above, cast(1, Integer))


def _share(count: ColumnElement[Any]) -> ColumnElement[Any]:
    """A bin's share of its window; null when the window is empty."""
    return cast(count, Float) / cast(func.nullif(func.sum(count).over(), 0), Float)


def _floored(share: ColumnElement[Any]) -> ColumnElement[Any]:
    # greatest() skips nulls, so an empty window must stay null explicitly.
    return case((share.is_(None), null()), else_=func.greatest(share, SHARE_FLOOR))


async def prediction_psi(
    conn: AsyncConnection,
    model_id: str,
    filters: tuple[tuple[str, FilterValues], ...],
    start: datetime,
    split: datetime,
    end: datetime,
) -> float | None:
    """PSI of predictedValue, [split, end) against [start, split); null if either is empty."""
    window = AggregateQuery(frozenset(), start, end, filters)
    scoped = (
        select(t.c.predicted_value.label("value"), (t.c.ts >= split).label("recent"))
        .where(*where_clauses(PREDICTIONS, window, [model_id]))
        .cte("scoped")
    )
    cuts = (
        select(type_coerce(_deciles(scoped.c.value), ARRAY(Float)).label("q"))
        .where(~scoped.c.recent)
        .cte("cuts")
    )
    bin_ = _bin(scoped.c.value, cuts.c.q).label("bin")
    binned = (
        select(
            bin_,
            func.count().filter(~scoped.c.recent).label("historical"),
            func.count().filter(scoped.c.recent).label("recent"),
        )
        .select_from(scoped.join(cuts, true()))
        .group_by(bin_)
        .subquery("binned")
    )
    shares = select(
        _share(binned.c.historical).label("h"), _share(binned.c.recent).label("r")
    ).subquery("shares")
    h, r = _floored(shares.c.h), _floored(shares.c.r)
    # Bins empty in both windows are absent here; they add (f - f) * ln(f / f) = 0.
    psi = func.sum((r - h) * func.ln(r / h))
    value = (await conn.execute(select(psi))).scalar_one()
    return None if value is None else float(value)
