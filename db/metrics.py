"""The catalog of custom metrics, derived from their samples: names, types, units, tag keys.

A metric exists once a sample of it is stored; its type and unit are those of
its newest sample (the newest that has a unit, for the unit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection

from db.catalog import like_pattern
from db.compiler import CODE_POINT
from db.tables import metric_samples as t


@dataclass(frozen=True)
class MetricInfo:
    """What the catalog knows of one metric."""

    name: str
    type: str
    unit: str | None


@dataclass(frozen=True)
class MetricSearch:
    """Which metrics a list shows: a name substring, and the names it is confined to."""

    search: str | None = None
    only: frozenset[str] | None = None


def _newest(column: Any, *where: Any) -> Any:
    newest_first = func.array_agg(aggregate_order_by(column, t.c.ts.desc(), t.c.id.desc()))
    return (newest_first.filter(*where) if where else newest_first)[1]


def _catalog(wanted: MetricSearch) -> Select[Any]:
    unit = _newest(t.c.unit, t.c.unit.is_not(None))
    statement = select(t.c.name, _newest(t.c.type).label("type"), unit.label("unit")).group_by(
        t.c.name
    )
    if wanted.search:
        statement = statement.where(t.c.name.ilike(like_pattern(wanted.search), escape="\\"))
    if wanted.only is not None:
        statement = statement.where(t.c.name.in_(sorted(wanted.only)))
    return statement


async def pages(
    conn: AsyncConnection, asked: tuple[MetricSearch, int, str | None], _: object
) -> dict[str, list[MetricInfo]]:
    """Up to first + 1 metrics after the name `after`, in name order (under the key "")."""
    wanted, first, after = asked
    key = t.c.name.collate(CODE_POINT)
    statement = _catalog(wanted).order_by(key).limit(first + 1)
    if after is not None:
        statement = statement.where(key > after)
    return {"": [MetricInfo(**row) for row in (await conn.execute(statement)).mappings()]}


async def counts(conn: AsyncConnection, wanted: MetricSearch, _: object) -> dict[str, int]:
    """How many metrics match (under the key "")."""
    statement = select(func.count()).select_from(_catalog(wanted).subquery())
    return {"": int((await conn.execute(statement)).scalar_one())}


async def by_names(
    conn: AsyncConnection, _question: None, names: Sequence[str]
) -> dict[str, MetricInfo | None]:
    """The metrics among names, None for a name without samples."""
    statement = _catalog(MetricSearch(only=frozenset(names)))
    found = {row["name"]: MetricInfo(**row) for row in (await conn.execute(statement)).mappings()}
    return {name: found.get(name) for name in names}


async def tag_keys(
    conn: AsyncConnection, _question: None, names: Sequence[str]
) -> dict[str, list[str]]:
    """Per metric, every tag key any of its samples carries, in code-point order."""
    key = func.jsonb_object_keys(t.c.tags).label("key")
    keys = select(t.c.name, key).where(t.c.name.in_(list(names))).distinct().subquery("keys")
    statement = select(keys.c.name, keys.c.key).order_by(
        keys.c.name, keys.c.key.collate(CODE_POINT)
    )
    found: dict[str, list[str]] = {name: [] for name in names}
    for name, tag in (await conn.execute(statement)).all():
        found[name].append(tag)
    return found


async def count_from_source(conn: AsyncConnection, source: str) -> int:
    """How many samples a source has sent (the demo asks before sending again)."""
    statement = select(func.count()).where(t.c.source == source)
    return int((await conn.execute(statement)).scalar_one())
