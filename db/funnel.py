"""Ordered funnels over product events, as one chain of CTEs (one statement)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.tables import product_events as t


async def funnel_users(
    conn: AsyncConnection,
    product_id: str,
    steps: Sequence[str],
    start: datetime,
    end: datetime,
    within: timedelta,
) -> list[int]:
    """Users who reached each step, in order, as the contract's Funnel defines it.

    A user enters at its first step-1 event in the range, and completes step k
    at its first step-k event strictly after step k-1, no later than
    entry + within.
    """
    in_range = and_(
        t.c.product_id == product_id, t.c.ts >= start, t.c.ts < end, t.c.user_id.is_not(None)
    )
    stage = (
        select(t.c.user_id, func.min(t.c.ts).label("entered"), func.min(t.c.ts).label("at"))
        .where(in_range, t.c.event_type == steps[0])
        .group_by(t.c.user_id)
        .cte("step_1")
    )
    stages = [stage]
    for number, event_type in enumerate(steps[1:], start=2):
        previous = stages[-1]
        stage = (
            select(previous.c.user_id, previous.c.entered, func.min(t.c.ts).label("at"))
            .select_from(previous.join(t, t.c.user_id == previous.c.user_id))
            .where(
                in_range,
                t.c.event_type == event_type,
                t.c.ts > previous.c.at,
                t.c.ts <= previous.c.entered + within,
            )
            .group_by(previous.c.user_id, previous.c.entered)
            .cte(f"step_{number}")
        )
        stages.append(stage)
    counts = [
        select(func.count()).select_from(s).scalar_subquery().label(f"users_{i}")
        for i, s in enumerate(stages)
    ]
    row = (await conn.execute(select(*counts))).one()
    return [int(value) for value in row]
