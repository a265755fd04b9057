"""Partitions ahead of need and retention: at startup, then on a fixed interval;
rollup compaction on a shorter one."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from db.compaction import compact, vacuum_rollups
from db.engine import Database
from db.partitions import ensure_partitions
from db.retention import RetentionReport, drop_expired_raw, drop_expired_rollups
from gateway.settings import Settings

log = logging.getLogger(__name__)

DAYS_AHEAD = 7
DAYS_BEHIND_WITHOUT_RETENTION = 31


async def maintain(database: Database, settings: Settings, now: datetime) -> RetentionReport:
    """Create the daily partitions around now, then apply both retention settings.

    Rollups are dropped only when raw rows are too, and never before them:
    a rollup missing under raw rows would make answers differ.
    """
    raw_days = settings.retention_days
    behind = raw_days if raw_days is not None else DAYS_BEHIND_WITHOUT_RETENTION
    async with database.write() as conn:
        await ensure_partitions(
            conn, (now - timedelta(days=behind)).date(), (now + timedelta(days=DAYS_AHEAD)).date()
        )
    if raw_days is None:
        return RetentionReport()
    async with database.write() as conn:
        report = await drop_expired_raw(conn, now, raw_days)
        if settings.rollup_retention_days is not None:
            rollup_days = max(settings.rollup_retention_days, raw_days)
            report.rollup_rows = await drop_expired_rollups(conn, now, rollup_days)
    return report


async def maintain_forever(database: Database, settings: Settings) -> None:
    """maintain() now and every maintenance interval; a failed pass is logged and retried."""
    while True:
        try:
            await maintain(database, settings, datetime.now(UTC))
        except SQLAlchemyError:
            log.exception("partition and retention maintenance failed; retrying later")
        await asyncio.sleep(settings.maintenance_interval_seconds)


async def compact_forever(database: Database, settings: Settings) -> None:
    """Fold the rollup rows ingest appended, every compaction interval, and vacuum the
    rollup tables after a pass that folded any (db.compaction.vacuum_rollups); a
    failed pass is logged and retried (answers never depend on it, only the rows'
    count does)."""
    while True:
        try:
            await compact_and_vacuum(database)
        except SQLAlchemyError:
            log.exception("rollup compaction failed; retrying later")
        await asyncio.sleep(settings.compaction_interval_seconds)


async def compact_and_vacuum(database: Database) -> int:
    """One compaction pass, then a vacuum of the rollup tables if it folded any keys."""
    keys = await compact(database)
    if keys:
        await vacuum_rollups(database)
    return keys
