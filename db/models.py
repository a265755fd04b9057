"""Model-specific SQL: version and environment lists, and the PSI of drift.

Drift's recent and historical metrics are ordinary aggregates (db.compiler,
from the predictions' rollups where they answer); only the population
stability index needs its own statement, which reads both windows' predicted
values: from the hourly rollup rows that keep them and the raw rows at the
windows' edges, or from raw rows alone when the filters are not ones the
rollups hold. numpy cuts them at the historical deciles and counts the bins,
and the shares and the sum are a few lines of Python over ten bins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Select, and_, case, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from db.aggregates import binary_results
from db.compiler import (
    AggregateQuery,
    FilterValues,
    bytes_joined,
    filter_clauses,
    where_clauses,
)
from db.facts.predictions import PREDICTIONS
from db.rolled import filtered_dimension, plan, stored_rows
from db.tables import model_versions
from db.tables import predictions as t

DECILES = [round(0.1 * i, 1) for i in range(1, 10)]
_VALUES = "predicted_values"  # the hourly rollup part of drift's PSI
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
    either is empty.

    One scan reads each window's predicted values as one string of float8s (8
    bytes each, big-endian); numpy cuts the historical ones at their deciles and
    counts both windows per bin. At 1M predictions, a week of one model (23,000)
    took 28 ms in the former statement, which cut and counted in SQL (the values
    materialized, sorted by model, sorted again for the deciles, then joined to
    the cuts and grouped by bin).
    """
    statement = _rolled_psi(question, model_ids)
    if statement is None:
        statement = _raw_psi(question, model_ids)
    async with binary_results(conn):
        found = {m: psi(h, r) for m, h, r in await conn.execute(statement)}
    return {model_id: found.get(model_id) for model_id in model_ids}


def _raw_psi(question: PsiQuestion, model_ids: Sequence[str]) -> Select[Any]:
    """Both windows' predicted values, from the raw rows of the whole range."""
    window = AggregateQuery(frozenset(), question.start, question.end, question.filters)
    recent = t.c.ts >= question.split
    packed = func.float8send(t.c.predicted_value)
    return (
        select(
            t.c.model_id,
            bytes_joined(packed).filter(~recent),
            bytes_joined(packed).filter(recent),
        )
        .where(*where_clauses(PREDICTIONS, window, model_ids))
        .group_by(t.c.model_id)
    )


def _rolled_psi(question: PsiQuestion, model_ids: Sequence[str]) -> Select[Any] | None:
    """Both windows' predicted values from the hourly rollup rows that hold them
    (db.rollups.values_part) and the raw rows of the minutes at the windows' edges;
    None when the filters are not ones the rollups hold (then _raw_psi).

    The same values as the raw rows, so the same PSI; a week of one model at ten
    million predictions is 168 rows of about 11 KB instead of 234,000 index
    entries (the raw statement took about 50 ms of a 90 ms drift).
    """
    rollup = PREDICTIONS.rollup
    assert rollup is not None
    query = AggregateQuery(frozenset(), question.start, question.end, question.filters)
    if question.filters and filtered_dimension(PREDICTIONS, query) is None:
        return None
    hourly = next(grain for grain in rollup.grains if grain.unit == "hour")
    stored, ids = hourly.table, list(model_ids)
    pieces: list[Select[Any]] = []
    windows = ((False, question.start, question.split), (True, question.split, question.end))
    for recent, start, end in windows:
        spans, edges = plan((hourly,), start, end)
        pieces += [
            select(
                stored.c.entity.label("model_id"),
                literal(recent).label("recent"),
                stored.c[_VALUES].label("packed"),
            ).where(*stored_rows(PREDICTIONS, query, stored, ids, span))
            for _, span in spans
        ]
        if edges:
            at_edges = or_(*[and_(t.c.ts >= first, t.c.ts < last) for first, last in edges])
            pieces.append(
                select(t.c.model_id, literal(recent), func.float8send(t.c.predicted_value)).where(
                    t.c.model_id.in_(ids), at_edges, *filter_clauses(PREDICTIONS, query)
                )
            )
    if not pieces:
        return None
    values = union_all(*pieces).subquery("values")
    return select(
        values.c.model_id,
        bytes_joined(values.c.packed).filter(~values.c.recent),
        bytes_joined(values.c.packed).filter(values.c.recent),
    ).group_by(values.c.model_id)


def psi(historical: bytes | None, recent: bytes | None) -> float | None:
    """The PSI of two windows' values (float8s, big-endian); null when either is empty."""
    if not historical or not recent:
        return None
    old, new = np.frombuffer(historical, ">f8"), np.frombuffer(recent, ">f8")
    cuts = deciles(old.astype(np.float64))
    return _psi(_bin_counts(old, cuts), _bin_counts(new, cuts))


def deciles(values: Any) -> list[float]:
    """The continuous deciles of values as Postgres's percentile_cont computes them:
    the same order statistics and the same arithmetic, to the last bit (a value
    equal to a cut must fall in the same bin as the contract's SQL puts it)."""
    last = len(values) - 1
    positions = [fraction * last for fraction in DECILES]
    rows = sorted({i for p in positions for i in (math.floor(p), math.ceil(p))})
    ordered = np.partition(values, rows)
    cuts = []
    for position in positions:
        low, high = math.floor(position), math.ceil(position)
        first, second = float(ordered[low]), float(ordered[high])
        # float8_lerp, as percentile_cont: first + (second - first) * proportion.
        cuts.append(first if low == high else first + (second - first) * (position - low))
    return cuts


def _bin_counts(values: Any, cuts: list[float]) -> list[int]:
    """Values per bin 1..10, bin i = (q[i-1], q[i]] with open outer ends: a value's bin
    is 1 + the cuts below it."""
    below = np.searchsorted(np.asarray(cuts), values, side="left")
    return [int(n) for n in np.bincount(below, minlength=len(cuts) + 1)]


def _psi(historical_counts: list[int], recent_counts: list[int]) -> float | None:
    """sum over bins of (r - h) * ln(r / h), from each window's counts in bin order;
    null when either window is empty. A bin empty in both adds (f - f) * ln(1) = 0."""
    historical, recent = sum(historical_counts), sum(recent_counts)
    if not historical or not recent:
        return None
    total = 0.0
    for h_count, r_count in zip(historical_counts, recent_counts, strict=True):
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
