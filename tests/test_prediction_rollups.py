"""Predictions' rollups: every model metric is the same from rollups as from raw rows,
filtered by environment or version, before and after actuals are recorded and
corrected, and the stored rollup rows are what a rebuild from raw rows gives."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from db.aggregates import fetch_groups
from db.compaction import compact
from db.compiler import AggregateQuery
from db.facts.predictions import PREDICTIONS
from db.ingest.batch import ingest_batch
from db.ingest.predictions import PREDICTION, record_actuals
from db.ingest.shape import RowContext
from db.models import PsiQuestion, _raw_psi, _rolled_psi, prediction_psi, psi
from db.rolled import answerable
from db.tables import predictions
from tests.factories import iso
from tests.rollup_rows import assert_same_rows, rebuilt_rollup_rows, stored_rollup_rows
from tests.test_rollups import _assert_same

MODELS = ["eta", "churn"]
SPAN = timedelta(hours=60)


def _predictions(pick: random.Random, now: datetime, count: int) -> list[dict[str, Any]]:
    rows = []
    for _ in range(count):
        predicted = round(pick.uniform(-20, 80), 3)
        labeled = pick.random() < 0.5
        rows.append(
            {
                # Ids repeat across models now and then: an actual applies to both.
                "predictionId": f"p{pick.randrange(count * 4)}",
                "timestamp": iso(
                    now - timedelta(seconds=pick.randrange(60, int(SPAN.total_seconds())))
                ),
                "modelId": pick.choice(MODELS),
                "modelVersion": pick.choice(["v1", "v2"]),
                "environment": pick.choice(["production", "production", "staging"]),
                "predictedValue": predicted,
                # Zero actuals have no relative error (MAPE skips them).
                "actualValue": pick.choice([0.0, round(predicted + pick.gauss(0, 5), 3)])
                if labeled
                else None,
            }
        )
    return rows


def _questions(start: datetime, end: datetime) -> list[AggregateQuery]:
    every = frozenset(PREDICTIONS.measures)
    production = (("environment", ("production",)),)
    shapes: list[dict[str, Any]] = [
        {},
        {"filters": production},
        {"filters": (("version", ("v2",)),)},
        {"filters": (("environment", ("production", "staging")),)},
        {"filters": production, "granularity": "hour"},
        {"filters": production, "group_by": ("ENVIRONMENT",)},
        {"granularity": "hour"},
        {"granularity": "day"},
        {"group_by": ("VERSION",)},
    ]
    return [AggregateQuery(every, start, end, **shape) for shape in shapes]


async def _compare(db, pick: random.Random, now: datetime) -> int:
    compared = 0
    for _ in range(6):
        start = now - timedelta(seconds=pick.randrange(2 * 3600, int(SPAN.total_seconds()) + 3600))
        if pick.random() < 0.3:
            start = start.replace(minute=0, second=0, microsecond=0)
        end = min(now, start + timedelta(seconds=pick.randrange(3 * 3600, 50 * 3600)))
        for question in _questions(start, end):
            whole_day = end - start >= timedelta(days=2)
            if not (question.group_by or question.filters) or whole_day:
                # Hours hold a model's environments and versions too.
                assert answerable(PREDICTIONS, question), question
            async with db.read() as conn:
                raw = await fetch_groups(conn, PREDICTIONS, question, MODELS, raw=True)
                rolled = await fetch_groups(conn, PREDICTIONS, question, MODELS)
            _assert_same(raw, rolled)
            compared += 1
    return compared


def _actuals(pick: random.Random, stored: list[dict[str, Any]], count: int) -> list[dict]:
    chosen = pick.sample(stored, count)
    return [
        {"predictionId": row["predictionId"], "actualValue": round(pick.uniform(-30, 90), 3)}
        for row in chosen
    ]


async def _ingested(db, pick: random.Random, now: datetime, batches: int, size: int) -> list[dict]:
    """Batches of random predictions, stored; every row sent."""
    stored: list[dict[str, Any]] = []
    for _ in range(batches):
        rows = _predictions(pick, now, size)
        await ingest_batch(db, PREDICTION, rows, RowContext(now, timedelta(minutes=5)))
        stored += rows
    return stored


async def test_model_metrics_from_rollups_match_raw_rows_as_actuals_arrive_and_change(db, now):
    pick = random.Random(31)
    context = RowContext(now, timedelta(minutes=5))
    stored = await _ingested(db, pick, now, 3, 120)
    compared = await _compare(db, pick, now)
    # New labels, corrected labels (some of them of ids two models share), then again
    # after a compaction, so taken-back rows meet folded ones.
    outcome = await record_actuals(db, _actuals(pick, stored, 80), context)
    assert outcome.accepted > 40
    compared += await _compare(db, pick, now)
    await compact(db)
    await record_actuals(db, _actuals(pick, stored, 80), context)
    compared += await _compare(db, pick, now)
    assert compared == 3 * 6 * len(_questions(now, now))


async def _psi_both_ways(db, question: PsiQuestion) -> tuple[dict, dict]:
    rolled_statement = _rolled_psi(question, MODELS)
    assert rolled_statement is not None
    async with db.read() as conn:
        raw = {m: psi(h, r) for m, h, r in await conn.execute(_raw_psi(question, MODELS))}
        rolled = {m: psi(h, r) for m, h, r in await conn.execute(rolled_statement)}
        served = await prediction_psi(conn, question, MODELS)
    assert served == {m: rolled.get(m) for m in MODELS}
    return raw, rolled


async def test_drift_psi_from_hourly_values_and_raw_edges_is_the_raw_rows_psi(db, now):
    pick = random.Random(3)
    context = RowContext(now, timedelta(minutes=5))
    stored = await _ingested(db, pick, now, 2, 300)
    await compact(db)
    await record_actuals(db, _actuals(pick, stored, 50), context)  # values stay put
    compared = 0
    for _ in range(10):
        end = now - timedelta(seconds=pick.randrange(0, 6 * 3600))
        split = end - timedelta(seconds=pick.randrange(1800, 12 * 3600))
        start = split - timedelta(seconds=pick.randrange(3 * 3600, 40 * 3600))
        for filters in ((), (("environment", ("production",)),), (("version", ("v1",)),)):
            raw, rolled = await _psi_both_ways(db, PsiQuestion(filters, start, split, end))
            assert raw.keys() == rolled.keys()
            for model, value in raw.items():
                # The same values in another order: the same deciles, bins and sum.
                assert value is not None
                assert rolled[model] == value, (model, filters)
                compared += 1
    assert compared >= 40
    # Two filters are not what the rollups hold: the raw rows answer.
    both = (("environment", ("production",)), ("version", ("v1",)))
    assert _rolled_psi(PsiQuestion(both, now - timedelta(hours=30), now, now), MODELS) is None


async def test_stored_prediction_rollups_equal_a_rebuild_after_actuals(db, now):
    pick = random.Random(7)
    context = RowContext(now, timedelta(minutes=5))
    rows = _predictions(pick, now, 200)
    await ingest_batch(db, PREDICTION, rows, context)
    await record_actuals(db, _actuals(pick, rows, 60), context)
    await record_actuals(db, _actuals(pick, rows, 60), context)
    await compact(db)
    kept = await stored_rollup_rows(db, PREDICTIONS)
    rebuilt = await rebuilt_rollup_rows(db, PREDICTIONS)
    assert_same_rows(kept, rebuilt)
    # The labeled counts are the test's own: every stored prediction with an actual.
    labeled = sum(
        row["labeled"]
        for key, row in rebuilt.items()
        if key[0] == "predictions_daily" and key[2] == ""
    )
    async with db.read() as conn:
        counted = await conn.scalar(select(func.count(predictions.c.actual_value)))
    assert labeled == counted > 0


def test_a_filter_is_rolled_only_on_one_dimension_the_rollups_hold(now):
    start = now - timedelta(days=3)
    every = frozenset({"rmse", "prediction_count"})
    production = (("environment", ("production",)),)
    assert answerable(PREDICTIONS, AggregateQuery(every, start, now, production))
    both = (*production, ("version", ("v1",)))
    assert not answerable(PREDICTIONS, AggregateQuery(every, start, now, both))
    by_version = AggregateQuery(every, start, now, production, group_by=("VERSION",))
    assert not answerable(PREDICTIONS, by_version)
    nothing = AggregateQuery(every, start, now, (("environment", ()),))
    assert not answerable(PREDICTIONS, nothing)
