"""Retention: raw fact rows by whole daily partitions, rollup rows by hour.

Raw rows are kept from the UTC day ``raw_days`` before now on: older daily
partitions are dropped whole, and rows that landed in the DEFAULT partition
are deleted to the same day. Rollups may be kept longer (``rollup_days``).
Row counts of the dropped rows leave ``row_counts`` in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import column, func, select, table, text
from sqlalchemy.ext.asyncio import AsyncConnection

from db.facts.all import FACTS
from db.partitions import PARTITIONED, day_of, default_partition, midnight, partitions_of
from db.stats import add_rows


@dataclass
class RetentionReport:
    """What one retention pass removed."""

    dropped_partitions: list[str] = field(default_factory=list)
    raw_rows: int = 0
    rollup_rows: int = 0


async def drop_expired_raw(conn: AsyncConnection, now: datetime, raw_days: int) -> RetentionReport:
    """Drop every raw fact row older than the UTC day raw_days before now."""
    keep_from = (now - timedelta(days=raw_days)).date()
    report = RetentionReport()
    for parent in PARTITIONED:
        removed = 0
        for name in await partitions_of(conn, parent):
            day = day_of(name)
            if day is None or day >= keep_from:
                continue
            partition = table(name)
            removed += (
                await conn.execute(select(func.count()).select_from(partition))
            ).scalar_one()
            # Postgres-only DDL: a whole partition goes at once, without a row scan.
            await conn.execute(text(f'DROP TABLE "{name}"'))
            report.dropped_partitions.append(name)
        spill = table(default_partition(parent), column("ts"))
        removed += (
            await conn.execute(spill.delete().where(spill.c.ts < midnight(keep_from)))
        ).rowcount
        if removed:
            await add_rows(conn, parent.name, -removed)
        report.raw_rows += removed
    return report


async def drop_expired_rollups(conn: AsyncConnection, now: datetime, rollup_days: int) -> int:
    """Delete rollup rows of hours before the UTC day rollup_days before now."""
    keep_from = midnight((now - timedelta(days=rollup_days)).date())
    removed = 0
    for fact in FACTS:
        for grain in fact.rollup.grains if fact.rollup is not None else ():
            stored = grain.table
            result = await conn.execute(stored.delete().where(stored.c.bucket < keep_from))
            removed += result.rowcount
    return removed
