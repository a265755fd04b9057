"""Rollups answer every question the way raw rows do, and their sketches keep their bound."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    Float,
    bindparam,
    column,
    func,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects import postgresql

from db.aggregates import Group, fetch_groups
from db.compiler import AggregateQuery, Fact
from db.facts.api_requests import API_REQUESTS
from db.facts.product_events import PRODUCT_EVENTS
from db.ingest.api_requests import API_REQUEST
from db.ingest.batch import ingest_batch
from db.ingest.product_events import PRODUCT_EVENT
from db.ingest.shape import RowContext
from db.partitions import ensure_partitions
from db.rolled import answerable
from db.rollups import sketch_part
from db.sketch import NORMALIZE_AT, quantile
from tests.factories import iso, percentile_cont, product_event

PERCENTILES = {"p95_page_load_time_ms", "p95_api_latency_ms", "p50_latency_ms", "p95_latency_ms"}
PERCENTILES |= {"p99_latency_ms"}
SPAN = timedelta(hours=100)


def _product_rows(pick: random.Random, now: datetime, count: int) -> list[dict[str, Any]]:
    def maybe(value: Any) -> Any:
        return None if pick.random() < 0.2 else value

    return [
        product_event(
            now - timedelta(seconds=pick.randrange(1, int(SPAN.total_seconds()))),
            productId=pick.choice(["shop", "blog", "app"]),
            eventType=pick.choice(["view", "click", "buy"]),
            userId=maybe(f"u{pick.randrange(9)}"),
            durationMs=maybe(round(pick.uniform(0, 5000), 3)),
            pageLoadTimeMs=maybe(round(pick.lognormvariate(6, 1), 3)),
            apiLatencyMs=maybe(pick.choice([0.0, round(pick.uniform(1, 900), 3)])),
            isError=pick.random() < 0.2,
            country=maybe(pick.choice(["us", "de", "fr"])),
            deviceType=maybe(pick.choice(["mobile", "desktop"])),
            source=maybe(pick.choice(["web", "ios"])),
        )
        for _ in range(count)
    ]


def _request_rows(pick: random.Random, now: datetime, count: int) -> list[dict[str, Any]]:
    return [
        {
            "requestId": f"r-{pick.random()}",
            "endpoint": pick.choice(["/a", "/b"]),
            "timestamp": iso(now - timedelta(seconds=pick.randrange(1, int(SPAN.total_seconds())))),
            "method": pick.choice(["GET", "POST"]),
            "statusCode": pick.choice([200, 200, 201, 404, 500]),
            "latencyMs": round(pick.lognormvariate(4, 1.2), 3),
            "region": pick.choice([None, "eu", "us"]),
            "errorReason": pick.choice([None, "timeout"]),
        }
        for _ in range(count)
    ]


def _questions(fact: Fact, start: datetime, end: datetime) -> list[AggregateQuery]:
    assert fact.rollup is not None
    every = frozenset(fact.measures)  # the ones without a merge come from raw rows
    shapes: list[dict[str, Any]] = [{}, {"granularity": "hour"}, {"granularity": "day"}]
    shapes += [{"group_by": (key,)} for key in fact.dimensions]
    shapes.append({"group_by": (next(iter(fact.dimensions)),), "limit": 2})
    # A filter on one dimension's values is answered from that dimension's rows; "" also
    # finds the rows where it is null, as in a breakdown.
    key, dimension = next(
        (key, name)
        for key, declared in fact.filters.items()
        for name, column in fact.dimensions.items()
        if column is declared
    )
    values = {PRODUCT_EVENTS: ("us",), API_REQUESTS: ("eu",)}[fact]
    shapes += [
        {"filters": ((key, values),)},
        {"filters": ((key, (*values, "")),)},
        {"filters": ((key, values),), "group_by": (dimension,)},
    ]
    return [AggregateQuery(every, start, end, **shape) for shape in shapes]


def _assert_same(raw: dict[str, list[Group]], rolled: dict[str, list[Group]]) -> None:
    assert raw.keys() == rolled.keys()
    for entity, groups in raw.items():
        assert [g.key for g in groups] == [g.key for g in rolled[entity]], entity
        for exact, from_rollup in zip(groups, rolled[entity], strict=True):
            for name, value in exact.values.items():
                other = from_rollup.values[name]
                if value is None or isinstance(value, int | str | datetime):
                    assert other == value, name
                elif name in PERCENTILES:
                    assert abs(other - value) <= 0.01 * abs(value), name
                else:
                    assert other == pytest.approx(value, rel=1e-9), name


async def test_rollups_answer_every_rollable_question_as_raw_rows_do(db, now):
    pick = random.Random(12)
    async with db.write() as conn:  # some days get partitions, older rows stay in DEFAULT
        await ensure_partitions(conn, (now - timedelta(days=1)).date(), now.date())
    context = RowContext(now, timedelta(minutes=5))
    for _ in range(3):  # several batches, so rollup rows are merged on conflict
        await ingest_batch(db, PRODUCT_EVENT, _product_rows(pick, now, 150), context)
        await ingest_batch(db, API_REQUEST, _request_rows(pick, now, 150), context)
    compared = 0
    for _ in range(12):
        start = now - timedelta(seconds=pick.randrange(2 * 3600, int(SPAN.total_seconds()) + 7200))
        if pick.random() < 0.25:
            start = start.replace(minute=0, second=0)
        end = min(now, start + timedelta(seconds=pick.randrange(2 * 3600, 80 * 3600)))
        for fact, ids in ((PRODUCT_EVENTS, ["shop", "blog", "app"]), (API_REQUESTS, ["/a", "/b"])):
            for question in _questions(fact, start, end):
                # Breakdowns need a whole UTC day (daily rollups); the rest a whole hour.
                if not (question.group_by or question.filters) or end - start >= timedelta(days=2):
                    assert answerable(fact, question)
                async with db.read() as conn:
                    raw = await fetch_groups(conn, fact, question, ids, raw=True)
                    rolled = await fetch_groups(conn, fact, question, ids)
                _assert_same(raw, rolled)
                compared += 1
    shapes = len(_questions(PRODUCT_EVENTS, now, now)) + len(_questions(API_REQUESTS, now, now))
    assert compared == 12 * shapes


async def test_questions_the_rollup_cannot_answer_exactly_go_to_raw_rows(now):
    start = now - timedelta(hours=5)
    rollable = frozenset({"total_events"})
    assert answerable(PRODUCT_EVENTS, AggregateQuery(rollable, start, now))
    users = frozenset({"unique_users"})
    assert answerable(PRODUCT_EVENTS, AggregateQuery(users, start, now))  # from the sets
    # A dimension's groups keep no sets: by country, distinct users come from raw rows.
    two_days = now - timedelta(days=2)
    by_country = AggregateQuery(users, two_days, now, group_by=("COUNTRY",))
    assert not answerable(PRODUCT_EVENTS, by_country)
    assert answerable(PRODUCT_EVENTS, replace(by_country, measures=users | rollable))
    assert not answerable(API_REQUESTS, AggregateQuery(frozenset({"top_error_reason"}), start, now))
    mixed = AggregateQuery(frozenset({"unique_users", "total_events"}), start, now)
    assert answerable(PRODUCT_EVENTS, mixed)
    # A filter is answered from its dimension's rows, daily only for product events.
    filtered = AggregateQuery(rollable, start, now, (("countries", ("us",)),))
    assert not answerable(PRODUCT_EVENTS, filtered)
    assert answerable(PRODUCT_EVENTS, replace(filtered, start=two_days))
    two_filters = (("countries", ("us",)), ("deviceTypes", ("mobile",)))
    assert not answerable(PRODUCT_EVENTS, AggregateQuery(rollable, two_days, now, two_filters))
    with_users = AggregateQuery(users | rollable, two_days, now, (("countries", ("us",)),))
    assert answerable(PRODUCT_EVENTS, with_users)  # users from raw rows beside the rest
    assert not answerable(
        PRODUCT_EVENTS, AggregateQuery(rollable, start, now, granularity="minute")
    )
    within_an_hour = now.replace(minute=10, second=0)
    short = AggregateQuery(rollable, within_an_hour, within_an_hour + timedelta(minutes=40))
    assert not answerable(PRODUCT_EVENTS, short)


_ENTRIES = (
    "SELECT array_agg((sketch_bin(x)::bigint << 32) | 1) FROM unnest(CAST(:{} AS float8[])) x"
)
# Every value's entry, folded: the sketch any correct build or merge must fold to.
_PACKED = f"SELECT sketch_norm(({_ENTRIES.format('values')}))"
_MERGED = text(f"SELECT sketch_norm(({_ENTRIES.format('first')}) || ({_ENTRIES.format('values')}))")


def _distributions(pick: random.Random) -> list[list[float]]:
    return [
        [pick.uniform(0, 1000) for _ in range(500)],
        [pick.lognormvariate(5, 2) for _ in range(800)],
        [0.0] * 30 + [pick.expovariate(0.01) for _ in range(200)],
        [pick.uniform(1e-6, 1e-3) for _ in range(100)],
        [42.0],
        [3.0, 7000.0],
    ]


async def test_sketch_percentiles_stay_within_one_percent_of_percentile_cont(db):
    pick = random.Random(5)
    async with db.read() as conn:
        for values in _distributions(pick):
            half = len(values) // 2
            whole = (await conn.execute(text(_PACKED), {"values": values})).scalar_one()
            merged_halves = (
                await conn.execute(_MERGED, {"first": values[:half], "values": values[half:]})
            ).scalar_one()
            assert merged_halves == whole
            # Readers get a group's sketches concatenated, a bin repeated across them.
            halves = [
                (await conn.execute(text(_PACKED), {"values": part})).scalar_one() or []
                for part in (values[:half], values[half:])
            ]
            # And as the statement sends them: array_send's bytes.
            sent = (
                await conn.execute(text(f"SELECT array_send(({_PACKED}))"), {"values": values})
            ).scalar_one()
            for fraction in (0.0, 0.5, 0.9, 0.95, 0.99, 1.0):
                expected = percentile_cont(values, fraction)
                assert expected is not None
                got = quantile(whole, fraction)
                assert math.isclose(got, expected, rel_tol=0.01, abs_tol=0.0), (fraction, values)
                assert quantile(halves[1] + halves[0], fraction) == got
                assert quantile(sent, fraction) == got
        empty = (await conn.execute(text("SELECT array_send('{}'::bigint[])"))).scalar_one()
        assert quantile(empty, 0.5) is None
        assert quantile([], 0.5) is None
        assert quantile(None, 0.5) is None


def _values(name: str) -> Any:
    """A one-column table of the float8 values bound as name."""
    array = bindparam(name, type_=postgresql.ARRAY(Float))
    return func.unnest(array).table_valued(column("x", Float)).render_derived(name=name)


async def test_sketches_built_and_merged_by_the_rollup_hold_every_bins_count(db):
    # Small groups keep one entry per value and merge by concatenation; past
    # NORMALIZE_AT entries both fold. Either way the folded sketch is that of all
    # the values at once.
    many = [float(v % 97) for v in range(NORMALIZE_AT + 44)]
    half = [float(v % 13) * 1.5 for v in range(NORMALIZE_AT // 2 + 10)]
    shapes = [[], [5.0], [5.0, 5.0, 5.0], [0.0], [0.0, 1.0, 900.0], [5.0, 5.01], half, many]
    first, second = _values("first"), _values("second")
    built = sketch_part(first.c.x).raw
    # Two rollup rows of one key, as compaction folds them (Part.merged).
    rows = union_all(
        select(built.label("sketch")), select(sketch_part(second.c.x).raw.label("sketch"))
    ).subquery()
    merged = select(sketch_part(first.c.x).merged(rows.c.sketch)).scalar_subquery()
    async with db.read() as conn:
        for a in shapes:
            packed = (await conn.execute(text(_PACKED), {"values": a})).scalar_one()
            got = (await conn.execute(select(func.sketch_norm(built)), {"first": a})).scalar_one()
            assert got == packed
            for b in shapes:
                whole = (await conn.execute(text(_PACKED), {"values": a + b})).scalar_one()
                folded = select(func.sketch_norm(merged))
                got = (await conn.execute(folded, {"first": a, "second": b})).scalar_one()
                assert got == whole, (a, b)
                both = {"first": a, "second": b}
                stored = (await conn.execute(select(merged), both)).scalar_one()
                assert len(stored or []) <= max(NORMALIZE_AT, len(whole or [])), (a, b)
