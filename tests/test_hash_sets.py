"""Distinct users from the rollups' sets of user hashes: the count of the union is the
count of distinct user ids, whatever the range, the edges, and how rows were merged."""

from __future__ import annotations

import random
import struct
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import psycopg
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from db import aggregates
from db.aggregates import fetch_groups
from db.compaction import compact
from db.compiler import AggregateQuery
from db.facts.product_events import PRODUCT_EVENTS
from db.hash_sets import count_union
from db.ingest.batch import ingest_batch
from db.ingest.product_events import PRODUCT_EVENT
from db.ingest.shape import RowContext
from db.rolled import answerable
from db.rollups import TOTALS
from tests.factories import product_event

PRODUCTS = ("shop", "blog")
SPAN = timedelta(hours=70)
USERS = frozenset({"unique_users"})


def _packed(values: set[int]) -> bytes:
    return b"".join(struct.pack(">Q", v) for v in sorted(values))


@given(st.lists(st.sets(st.integers(0, 2**64 - 1), max_size=40), max_size=8))
def test_the_count_of_joined_sets_is_the_size_of_their_union(sets: list[set[int]]) -> None:
    joined = b"".join(_packed(s) for s in sets)  # as the statement joins a group's sets
    assert count_union(joined) == len(set().union(*sets))


def test_no_sets_count_zero() -> None:
    assert count_union(None) == count_union(b"") == 0


def _rows(pick: random.Random, now: datetime, count: int) -> list[dict[str, Any]]:
    """Events of 2,500 users (some without one) over the span, most of them repeat."""
    return [
        product_event(
            now - timedelta(seconds=pick.randrange(1, int(SPAN.total_seconds()))),
            productId=pick.choice(PRODUCTS),
            userId=None if pick.random() < 0.1 else f"user-{pick.randrange(2_500)}",
            country=pick.choice(["us", "de"]),
        )
        for _ in range(count)
    ]


def _users_by_product(rows: list[dict[str, Any]], start: datetime, end: datetime) -> dict:
    found: dict[str, set[str]] = {p: set() for p in PRODUCTS}
    for row in rows:
        at = datetime.fromisoformat(row["timestamp"])
        if start <= at < end and row["userId"] is not None:
            found[row["productId"]].add(row["userId"])
    return found


async def test_unique_users_from_the_sets_are_the_distinct_user_ids_of_the_range(db, now):
    pick = random.Random(7)
    context = RowContext(now, timedelta(minutes=5))
    made: list[dict[str, Any]] = []
    for batch in range(6):
        rows = _rows(pick, now, 700)
        assert (await ingest_batch(db, PRODUCT_EVENT, rows, context)).accepted == len(rows)
        made += rows
        if batch == 2:
            await compact(db)  # some keys end with a compacted row and appended ones
    for _ in range(15):
        start = now - timedelta(seconds=pick.randrange(3600, int(SPAN.total_seconds()) + 3600))
        end = min(now, start + timedelta(seconds=pick.randrange(3 * 3600, 60 * 3600)))
        question = AggregateQuery(USERS, start, end)
        assert answerable(PRODUCT_EVENTS, question)
        async with db.read() as conn:
            answers = await fetch_groups(conn, PRODUCT_EVENTS, question, list(PRODUCTS))
        expected = _users_by_product(made, start, end)
        for product in PRODUCTS:
            got = answers[product][0].values["unique_users"] if answers[product] else 0
            assert got == len(expected[product]), (product, start, end)


async def test_unique_users_per_hour_are_each_hours_distinct_user_ids(db, now):
    pick = random.Random(8)
    made = _rows(pick, now, 1_500)
    await ingest_batch(db, PRODUCT_EVENT, made, RowContext(now, timedelta(minutes=5)))
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=30)
    question = AggregateQuery(USERS, start, end, granularity="hour")
    assert answerable(PRODUCT_EVENTS, question)
    async with db.read() as conn:
        answers = await fetch_groups(conn, PRODUCT_EVENTS, question, ["shop"])
    hours: dict[datetime, set[str]] = defaultdict(set)
    for row in made:
        at = datetime.fromisoformat(row["timestamp"])
        if row["productId"] == "shop" and start <= at < end and row["userId"] is not None:
            hours[at.replace(minute=0, second=0, microsecond=0)].add(row["userId"])
    assert {g.key: g.values["unique_users"] for g in answers["shop"]} == {
        hour: len(users) for hour, users in hours.items()
    } | {g.key: 0 for g in answers["shop"] if g.key not in hours}


async def test_a_totals_row_holds_one_hash_per_distinct_user_and_a_dimension_row_none(db, now):
    pick = random.Random(9)
    made = _rows(pick, now, 1_200)
    await ingest_batch(db, PRODUCT_EVENT, made, RowContext(now, timedelta(minutes=5)))
    await compact(db)
    rollup = PRODUCT_EVENTS.rollup
    assert rollup is not None
    daily = rollup.grains[0].table
    expected: dict[tuple[str, Any], set[str]] = defaultdict(set)
    for row in made:
        day = datetime.fromisoformat(row["timestamp"]).date()
        if row["userId"] is not None:
            expected[(row["productId"], day)].add(row["userId"])
    async with db.read() as conn:
        day = func.date(func.timezone("UTC", daily.c.bucket))
        stored = await conn.execute(
            select(daily.c.entity, day, func.length(daily.c.users)).where(
                daily.c.dimension == TOTALS
            )
        )
        sizes = {(entity, at): size // 8 for entity, at, size in stored}
        dimension_sets = await conn.scalar(
            select(func.count()).where(daily.c.dimension != TOTALS, daily.c.users.is_not(None))
        )
    assert sizes == {key: len(users) for key, users in expected.items()}
    assert dimension_sets == 0


async def test_many_hashes_are_counted_in_threads_to_the_same_answer(db, now, monkeypatch):
    pick = random.Random(10)
    made = _rows(pick, now, 800)
    await ingest_batch(db, PRODUCT_EVENT, made, RowContext(now, timedelta(minutes=5)))
    question = AggregateQuery(USERS, now - SPAN, now)
    threads = []
    real_to_thread = aggregates.asyncio.to_thread

    async def counting_thread(function, /, *args):
        threads.append(function)
        return await real_to_thread(function, *args)

    monkeypatch.setattr(aggregates, "_COUNT_INLINE", 0)
    monkeypatch.setattr(aggregates, "_COUNT_THREADS", 2)
    monkeypatch.setattr(aggregates.asyncio, "to_thread", counting_thread)
    async with db.read() as conn:
        answers = await fetch_groups(conn, PRODUCT_EVENTS, question, list(PRODUCTS))
    expected = _users_by_product(made, now - SPAN, now)
    assert {p: answers[p][0].values["unique_users"] for p in PRODUCTS} == {
        p: len(users) for p, users in expected.items()
    }
    assert len(threads) == 2  # the products' sets split between two threads


async def test_a_connection_returns_to_text_results_after_a_rolled_answer(db, now):
    made = _rows(random.Random(11), now, 200)
    await ingest_batch(db, PRODUCT_EVENT, made, RowContext(now, timedelta(minutes=5)))
    async with db.read() as conn:
        await fetch_groups(conn, PRODUCT_EVENTS, AggregateQuery(USERS, now - SPAN, now), ["shop"])
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver.cursor_factory is psycopg.AsyncCursor
        assert await conn.scalar(select(func.concat("a", "b"))) == "ab"
