"""Ordered funnels over product events, as one chain of CTEs (one statement for
every product asked about)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from db.tables import product_events as t


@dataclass(frozen=True)
class FunnelQuestion:
    """The ordered event types, the range and the time a user has from entering."""

    steps: tuple[str, ...]
    start: datetime
    end: datetime
    within: timedelta


async def funnel_users(
    conn: AsyncConnection, question: FunnelQuestion, product_ids: Sequence[str]
) -> dict[str, list[int]]:
    """Per product, users who reached each step, in order, as the contract's Funnel
    defines it.

    A user enters at its first step-1 event in the range, and completes step k
    at its first step-k event strictly after step k-1, no later than
    entry + within.
    """
    in_range = and_(
        t.c.product_id.in_(list(product_ids)),
        t.c.ts >= question.start,
        t.c.ts < question.end,
        t.c.user_id.is_not(None),
    )
    first = func.min(t.c.ts)
    stage = (
        select(t.c.product_id, t.c.user_id, first.label("entered"), first.label("at"))
        .where(in_range, t.c.event_type == question.steps[0])
        .group_by(t.c.product_id, t.c.user_id)
        .cte("step_1")
    )
    stages = [stage]
    for number, event_type in enumerate(question.steps[1:], start=2):
        previous = stages[-1]
        same_user = and_(t.c.product_id == previous.c.product_id, t.c.user_id == previous.c.user_id)
        stage = (
            select(previous.c.product_id, previous.c.user_id, previous.c.entered, first.label("at"))
            .select_from(previous.join(t, same_user))
            .where(
                in_range,
                t.c.event_type == event_type,
                t.c.ts > previous.c.at,
                t.c.ts <= previous.c.entered + question.within,
            )
            .group_by(previous.c.product_id, previous.c.user_id, previous.c.entered)
            .cte(f"step_{number}")
        )
        stages.append(stage)
    counts = union_all(
        *(
            select(s.c.product_id, literal(i).label("step"), func.count().label("users")).group_by(
                s.c.product_id
            )
            for i, s in enumerate(stages)
        )
    )
    users = {product_id: [0] * len(stages) for product_id in product_ids}
    for product_id, step, count in (await conn.execute(counts)).all():
        users[product_id][step] = int(count)
    return users
