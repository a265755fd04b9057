"""Model-specific SQL: version and environment lists, and the PSI of drift.

Drift's recent and historical metrics are ordinary aggregates (db.compiler);
only the population stability index needs its own statement, which cuts the
historical predictions at their deciles and counts both windows per bin in SQL;
the shares and the sum are a few lines of Python over ten bins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, Select, case, cast, func, select, true, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by, array
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from db.compiler import AggregateQuery, FilterValues, where_clauses
from db.facts.predictions import PREDICTIONS
from db.tables import model_versions
from db.tables import predictions as t

DECILES = [round(0.1 * i, 1) for i in range(1, 10)]
# An empty bin would make ln(r / h) infinite; the contract floors every share here.
SHARE_FLOOR = 0.0001


async def versions(
    conn: AsyncConnection, question: None, model_ids: Sequence[str]
) -> dict[str, list[str]]:
    """Per model, versions seen in any environment, newest first by their latest
    prediction, then name."""
    latest = func.max(model_versions.c.last_seen)
    statement = (
        select(model_versions.c.model_id, model_versions.c.version)
        .where(model_versions.c.model_id.in_(list(model_ids)))
        .group_by(model_versions.c.model_id, model_versions.c.version)
        .order_by(model_versions.c.model_id, latest.desc(), model_versions.c.version)
    )
    return await _lists(conn, statement, model_ids)


async def latest_versions(
    conn: AsyncConnection, question: tuple[str | None, datetime], model_ids: Sequence[str]
) -> dict[str, str | None]:
    """Per model, the version with the newest prediction before the horizon in the
    environment (None: any), ties to the greater name; None when there is none.

    The model_versions catalog answers (its last_seen is the newest prediction);
    only a version seen after the horizon, which a clock in the past sees, has its
    newest earlier prediction looked up in the raw rows.
    """
    environment, horizon = question
    mv = model_versions
    earlier = (
        select(func.max(t.c.ts))
        .where(
            t.c.model_id == mv.c.model_id,
            t.c.environment == mv.c.environment,
            t.c.model_version == mv.c.version,
            t.c.ts < horizon,
        )
        .scalar_subquery()
    )
    newest = case((mv.c.last_seen < horizon, mv.c.last_seen), else_=earlier)
    seen = select(mv.c.model_id, mv.c.version, newest.label("newest")).where(
        mv.c.model_id.in_(list(model_ids)), mv.c.first_seen < horizon
    )
    if environment is not None:
        seen = seen.where(mv.c.environment == environment)
    versions = seen.subquery()
    rank = func.row_number().over(
        partition_by=versions.c.model_id,
        order_by=(func.max(versions.c.newest).desc(), versions.c.version.desc()),
    )
    ranked = (
        select(versions.c.model_id, versions.c.version, rank.label("rank"))
        .group_by(versions.c.model_id, versions.c.version)
        .subquery()
    )
    statement = select(ranked.c.model_id, ranked.c.version).where(ranked.c.rank == 1)
    found: dict[str, str | None] = dict.fromkeys(model_ids)
    for model_id, version in (await conn.execute(statement)).all():
        found[model_id] = version
    return found


async def environments(
    conn: AsyncConnection, question: None, model_ids: Sequence[str]
) -> dict[str, list[str]]:
    """Per model, the environments it has predicted in, by name."""
    statement = (
        select(model_versions.c.model_id, model_versions.c.environment)
        .where(model_versions.c.model_id.in_(list(model_ids)))
        .distinct()
        .order_by(model_versions.c.model_id, model_versions.c.environment)
    )
    return await _lists(conn, statement, model_ids)


async def _lists(
    conn: AsyncConnection, statement: Select[Any], model_ids: Sequence[str]
) -> dict[str, list[str]]:
    """(model id, value) rows as each model's values, in row order."""
    found: dict[str, list[str]] = {model_id: [] for model_id in model_ids}
    for model_id, value in (await conn.execute(statement)).all():
        found[model_id].append(value)
    return found


def _deciles(value: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.percentile_cont(array(DECILES)).within_group(value)


def _negated(cuts: Any) -> Any:
    """Per model, the cuts negated and reversed: -q[9], ..., -q[1] (ascending)."""
    cut = func.unnest(cuts.c.q).table_valued("value", with_ordinality="n").render_derived()
    return (
        select(
            cuts.c.model_id,
            func.array_agg(aggregate_order_by(-cut.c.value, cut.c.n.desc())).label("q"),
        )
        .select_from(cuts.join(cut, true()))
        .group_by(cuts.c.model_id)
        .cte("negated")
    )


def _bin(value: ColumnElement[Any], negated: ColumnElement[Any]) -> ColumnElement[int]:
    """1..10: bin i holds (q[i-1], q[i]], with open outer ends.

    width_bucket(-value, negated) counts the cuts at or above value, so the bin,
    1 + the cuts below value, is 10 minus it: one call per row in C, where nine
    comparisons summed cost twice the scan.
    """
    return cast(len(DECILES) + 1 - func.width_bucket(-value, negated), Integer)


@dataclass(frozen=True)
class PsiQuestion:
    """Filters, and the historical [start, split) and recent [split, end) windows."""

    filters: tuple[tuple[str, FilterValues], ...]
    start: datetime
    split: datetime
    end: datetime


async def prediction_psi(
    conn: AsyncConnection, question: PsiQuestion, model_ids: Sequence[str]
) -> dict[str, float | None]:
    """Per model, the PSI of predictedValue, recent against historical window; null if
    either is empty."""
    window = AggregateQuery(frozenset(), question.start, question.end, question.filters)
    scoped = (
        select(
            t.c.model_id,
            t.c.predicted_value.label("value"),
            (t.c.ts >= question.split).label("recent"),
        )
        .where(*where_clauses(PREDICTIONS, window, model_ids))
        .cte("scoped")
    )
    cuts = (
        select(scoped.c.model_id, type_coerce(_deciles(scoped.c.value), ARRAY(Float)).label("q"))
        .where(~scoped.c.recent)
        .group_by(scoped.c.model_id)
        .cte("cuts")
    )
    negated = _negated(cuts)
    bin_ = _bin(scoped.c.value, negated.c.q).label("bin")
    binned = (
        select(
            scoped.c.model_id,
            bin_,
            func.count().filter(~scoped.c.recent).label("historical"),
            func.count().filter(scoped.c.recent).label("recent"),
        )
        .select_from(scoped.join(negated, negated.c.model_id == scoped.c.model_id))
        .group_by(scoped.c.model_id, bin_)
        .subquery("binned")
    )
    # Unordered, so the planner hashes the bins; they are summed in bin order below.
    rows = sorted((await conn.execute(select(binned))).all())
    counts: dict[str, list[tuple[int, int]]] = {}
    for model_id, _, historical, recent in rows:
        counts.setdefault(model_id, []).append((historical, recent))
    return {model_id: _psi(counts.get(model_id, [])) for model_id in model_ids}


def _psi(bins: list[tuple[int, int]]) -> float | None:
    """sum over bins of (r - h) * ln(r / h), from (historical, recent) counts in bin
    order; null when either window is empty. A bin empty in both windows is absent
    from bins: it would add (f - f) * ln(f / f) = 0."""
    historical, recent = sum(h for h, _ in bins), sum(r for _, r in bins)
    if not historical or not recent:
        return None
    total = 0.0
    for h_count, r_count in bins:
        h = max(h_count / historical, SHARE_FLOOR)
        r = max(r_count / recent, SHARE_FLOOR)
        total += (r - h) * math.log(r / h)
    return total


async def prediction_models(conn: AsyncConnection, prediction_ids: Sequence[str]) -> dict[str, str]:
    """The model of each stored prediction among prediction_ids."""
    rows = await conn.execute(
        select(t.c.prediction_id, t.c.model_id).where(t.c.prediction_id.in_(list(prediction_ids)))
    )
    return {row.prediction_id: row.model_id for row in rows}
