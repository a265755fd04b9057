"""Product.funnel: ordered steps per user, strictly later, within a window from entry."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from tests.factories import at, ingest_product_events, iso, product_event

FUNNEL = """
query($steps: [String!]!, $within: Int, $range: TimeRange) {
  product(id: "shop") { funnel(steps: $steps, withinSeconds: $within, range: $range) {
    overallConversion
    steps { eventType users conversionFromPrevious conversionFromStart } } } }
"""


def expected_users(rows, steps, start, end, within):
    """Users per step, following the contract's Funnel definition literally."""
    counts = [0] * len(steps)
    users = {r["userId"] for r in rows if r.get("userId") is not None}
    for user in users:
        mine = [r for r in rows if r.get("userId") == user and start <= at(r) < end]
        entries = [at(r) for r in mine if r["eventType"] == steps[0]]
        if not entries:
            continue
        entered = reached = min(entries)
        counts[0] += 1
        for k, step in enumerate(steps[1:], start=1):
            later = [at(r) for r in mine if r["eventType"] == step and at(r) > reached]
            if not later or min(later) > entered + timedelta(seconds=within):
                break
            reached = min(later)
            counts[k] += 1
    return counts


async def funnel(gql, now, steps, within=None, range_=None):
    variables = {"steps": steps, "within": within, "range": range_}
    return (await gql(FUNNEL, variables, now=now))["product"]["funnel"]


def user_events(user, start, *steps):
    """Events of one user: (seconds after start, event type) pairs."""
    return [product_event(start + timedelta(seconds=s), userId=user, eventType=t) for s, t in steps]


async def test_funnel_counts_steps_in_order_and_strictly_later(gql, now):
    t0 = now - timedelta(hours=3)
    rows = [
        *user_events("done", t0, (0, "view"), (10, "cart"), (20, "buy")),
        *user_events("reversed", t0, (0, "cart"), (10, "view"), (20, "buy")),
        *user_events("same-time", t0, (0, "view"), (0, "cart"), (5, "buy")),
        *user_events("skips", t0, (0, "view"), (10, "buy")),
        *user_events("repeats", t0, (0, "view"), (5, "view"), (6, "cart"), (7, "cart")),
        *user_events(None, t0, (0, "view"), (1, "cart"), (2, "buy")),
    ]
    await ingest_product_events(gql, rows, now)
    result = await funnel(gql, now, ["view", "cart", "buy"])
    assert [s["users"] for s in result["steps"]] == [5, 2, 1]
    assert [s["eventType"] for s in result["steps"]] == ["view", "cart", "buy"]


async def test_funnel_window_counts_from_entry_not_from_the_previous_step(gql, now):
    t0 = now - timedelta(hours=3)
    rows = [
        *user_events("slow", t0, (0, "a"), (60, "b"), (101, "c")),
        *user_events("edge", t0, (0, "a"), (60, "b"), (100, "c")),
        *user_events("late-entry", t0, (0, "a"), (200, "a"), (250, "b")),
    ]
    await ingest_product_events(gql, rows, now)
    result = await funnel(gql, now, ["a", "b", "c"], within=100)
    assert [s["users"] for s in result["steps"]] == [3, 2, 1]


async def test_funnel_only_uses_events_in_the_range(gql, now):
    t0 = now - timedelta(hours=3)
    rows = [
        *user_events("before", t0, (-10, "a"), (10, "b")),
        *user_events("inside", t0, (0, "a"), (10, "b"), (3600, "b")),
        *user_events("after", t0, (30, "a"), (3600, "b")),
    ]
    await ingest_product_events(gql, rows, now)
    range_ = {"from": iso(t0), "to": iso(t0 + timedelta(seconds=3600))}
    result = await funnel(gql, now, ["a", "b"], range_=range_)
    assert [s["users"] for s in result["steps"]] == [2, 1]


async def test_funnel_conversions_are_fractions_of_previous_and_first_step(gql, now):
    pick = random.Random(4)
    t0 = now - timedelta(hours=20)
    rows = [
        product_event(
            t0 + timedelta(seconds=pick.randrange(0, 19 * 3600)),
            userId=pick.choice([None, *[f"u{n}" for n in range(25)]]),
            eventType=pick.choice(["land", "signup", "pay", "other"]),
        )
        for _ in range(400)
    ]
    await ingest_product_events(gql, rows, now)
    steps = ["land", "signup", "pay"]
    result = await funnel(gql, now, steps, within=4 * 3600)
    users = expected_users(rows, steps, now - timedelta(hours=24), now, 4 * 3600)
    assert users[-1] > 0
    assert result["steps"] == [
        {
            "eventType": step,
            "users": users[k],
            "conversionFromPrevious": pytest.approx(users[k] / users[k - 1] if k else 1.0),
            "conversionFromStart": pytest.approx(users[k] / users[0]),
        }
        for k, step in enumerate(steps)
    ]
    assert result["overallConversion"] == pytest.approx(users[-1] / users[0])


async def test_funnel_without_users_converts_nothing(gql, now):
    await ingest_product_events(gql, [product_event(now - timedelta(hours=1))], now)
    result = await funnel(gql, now, ["signup", "pay"])
    assert result["overallConversion"] == 0
    assert [(s["users"], s["conversionFromPrevious"]) for s in result["steps"]] == [
        (0, 1.0),
        (0, 0.0),
    ]


async def test_funnel_may_repeat_an_event_type(gql, now):
    t0 = now - timedelta(hours=2)
    rows = [
        *user_events("twice", t0, (0, "view"), (30, "view")),
        *user_events("once", t0, (0, "view")),
    ]
    await ingest_product_events(gql, rows, now)
    result = await funnel(gql, now, ["view", "view"])
    assert [s["users"] for s in result["steps"]] == [2, 1]
