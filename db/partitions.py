"""Daily time partitions of the fact tables.

Every partitioned fact table has a DEFAULT partition (made by the migration),
so a row whose day has no partition of its own still lands: no timestamp
ever fails a batch. The gateway creates one partition per UTC day ahead of
need (``ensure_partitions``); a day whose rows already sit in the DEFAULT
partition keeps them there, since Postgres refuses a new partition that the
DEFAULT partition already holds rows for.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Table, column, exists, select, table, text
from sqlalchemy.ext.asyncio import AsyncConnection

from db import tables

PARTITIONED: tuple[Table, ...] = (tables.product_events, tables.api_requests, tables.predictions)
DAY = timedelta(days=1)


def default_partition(parent: Table) -> str:
    """The name of a fact table's DEFAULT partition."""
    return f"{parent.name}_default"


def partition_name(parent: Table, day: date) -> str:
    """The name of a fact table's partition of one UTC day."""
    return f"{parent.name}_p{day:%Y%m%d}"


def day_of(name: str) -> date | None:
    """The day a partition name stands for (None for the DEFAULT partition)."""
    suffix = name.rsplit("_p", 1)[-1]
    if len(suffix) != 8 or not suffix.isdigit():
        return None
    return datetime.strptime(suffix, "%Y%m%d").replace(tzinfo=UTC).date()


def midnight(day: date) -> datetime:
    """The first instant of a UTC day."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def days(first: date, last: date) -> Iterator[date]:
    """Every day from first to last, both included."""
    day = first
    while day <= last:
        yield day
        day += DAY


def is_partition(name: str | None) -> bool:
    """Whether a table name is one of a fact table's partitions."""
    parents = {parent.name for parent in PARTITIONED}
    return name is not None and (
        any(name == default_partition(table) for table in PARTITIONED)
        or (day_of(name) is not None and name.rsplit("_p", 1)[0] in parents)
    )


async def partitions_of(conn: AsyncConnection, parent: Table) -> list[str]:
    """The names of a table's partitions (the DEFAULT one included)."""
    rows = await conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:parent AS regclass) ORDER BY c.relname"
        ),
        {"parent": parent.name},
    )
    return list(rows.scalars())


async def ensure_partitions(conn: AsyncConnection, first: date, last: date) -> int:
    """Create the missing daily partitions of every fact table from first to last.

    Returns how many were created. Postgres-only DDL, so written as text.
    """
    # One gateway at a time, so two starting together do not race on the same name.
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('fact partitions'))"))
    created = 0
    for parent in PARTITIONED:
        existing = set(await partitions_of(conn, parent))
        spill = table(default_partition(parent), column("ts"))
        for day in days(first, last):
            name = partition_name(parent, day)
            if name in existing:
                continue
            start, end = midnight(day), midnight(day + DAY)
            held = select(exists().where(spill.c.ts >= start, spill.c.ts < end))
            if (await conn.execute(held)).scalar():
                continue
            await conn.execute(
                text(
                    f'CREATE TABLE "{name}" PARTITION OF "{parent.name}" '
                    f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
                )
            )
            created += 1
    return created
