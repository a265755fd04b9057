"""Custom metric fields: the metric catalog, tag keys, aggregates and series.

Aggregates go through the per-request loaders like any fact's (the metric's
name is the entity), so a list of metrics costs a fixed number of statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from strawberry.scalars import JSON
from strawberry.types import Info

from db import metrics as metric_sql
from db.aggregates import Group
from db.compiler import AggregateQuery
from db.facts.metric_samples import METRIC_SAMPLES, TAGS
from resolvers.access import principal_of, visible
from resolvers.arguments import decode_cursor, encode_cursor, page_size, time_window
from resolvers.context import context_of
from resolvers.errors import bad_input
from resolvers.pages import Page
from schema.common import Granularity, TimeRange
from schema.metric_types import Aggregation, MetricGroup, MetricPoint

MAX_GROUP_KEYS = 10


def _tag_filter(tags: Any) -> tuple[tuple[str, Any], ...]:
    """The tags argument as sorted (key, value) pairs; values are strings or numbers."""
    if tags is None:
        return ()
    if not isinstance(tags, dict):
        raise bad_input(f"tags must be a JSON object, got {type(tags).__name__}", "tags")
    for key, value in tags.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise bad_input(f"tags.{key} must be a string or a number, got {value!r}", "tags")
    return tuple(sorted(tags.items()))


def _group_keys(group_by: Sequence[str] | None) -> tuple[str, ...]:
    keys = tuple(group_by or ())
    if len(keys) > MAX_GROUP_KEYS:
        raise bad_input(f"groupBy takes at most {MAX_GROUP_KEYS} tag keys, got {len(keys)}")
    if any(not key for key in keys) or len(set(keys)) != len(keys):
        raise bad_input(f"groupBy must name distinct, non-empty tag keys, got {list(keys)}")
    return keys


@dataclass(frozen=True)
class MetricAsk:
    """The arguments aggregate and series share, as the client gave them."""

    aggregation: Aggregation
    range: TimeRange | None
    tags: Any
    group_by: Sequence[str] | None


async def _groups(
    info: Info[Any, Any], name: str, ask: MetricAsk, granularity: Granularity | None = None
) -> tuple[tuple[str, ...], list[Group]]:
    keys = _group_keys(ask.group_by)
    filters = ((TAGS, _tag_filter(ask.tags)),) if ask.tags is not None else ()
    start, end = time_window(ask.range, context_of(info).now)
    question = AggregateQuery(
        frozenset({ask.aggregation.value, "count"}),
        start,
        end,
        filters,
        group_by=keys,
        granularity=None if granularity is None else granularity.value,
    )
    found = await context_of(info).loaders.aggregates.load((METRIC_SAMPLES, question, name))
    return keys, found


def _ranked(
    keys: tuple[str, ...], aggregation: Aggregation, groups: list[Group]
) -> list[MetricGroup]:
    """Groups by value descending (nulls last), ties by key in code-point order."""
    shaped = [
        MetricGroup(
            key="_".join(g.dimensions),
            tags=JSON(dict(zip(keys, g.dimensions, strict=True))),
            value=g.values[aggregation.value],
            count=g.values["count"],
        )
        for g in groups
    ]
    return sorted(shaped, key=lambda g: (g.value is None, -(g.value or 0.0), g.key))


async def aggregate(info: Info[Any, Any], name: str, ask: MetricAsk) -> list[MetricGroup]:
    """One group per combination of groupBy tag values, ordered by value descending."""
    keys, groups = await _groups(info, name, ask)
    return _ranked(keys, ask.aggregation, groups)


async def series(
    info: Info[Any, Any], name: str, ask: MetricAsk, granularity: Granularity
) -> list[MetricPoint]:
    """One point per bucket that has samples, in time order, with its groups."""
    keys, groups = await _groups(info, name, ask, granularity)
    aggregation = ask.aggregation
    buckets: dict[Any, list[Group]] = {}
    for group in groups:
        buckets.setdefault(group.key, []).append(group)
    return [
        MetricPoint(bucket=bucket, groups=_ranked(keys, aggregation, members))
        for bucket, members in sorted(buckets.items())
    ]


async def tag_keys(info: Info[Any, Any], name: str) -> list[str]:
    """Every tag key the metric's samples carry."""
    return await context_of(info).loaders.load(metric_sql.tag_keys, None, name)


async def metric_page(
    info: Info[Any, Any], search: str | None, first: int, after: str | None
) -> Page[metric_sql.MetricInfo]:
    """Metrics the caller may see, in name order, optionally matching search."""
    context = context_of(info)
    first = page_size(first, context.settings.max_page_size)
    position = decode_cursor(after, "metric", 1, (str,))
    confined = principal_of(info).resource_ids
    wanted = metric_sql.MetricSearch(search, None if confined is None else frozenset(confined))
    asked = (wanted, first, position[0] if position else None)
    found = await context.loaders.load(metric_sql.pages, asked, "")

    async def total() -> int:
        return await context.loaders.load(metric_sql.counts, wanted, "")

    items = found[:first]
    end_cursor = encode_cursor("metric", items[-1].name) if items else None
    return Page(items, len(found) > first, end_cursor, total)


async def find_metric(info: Info[Any, Any], name: str) -> metric_sql.MetricInfo | None:
    """The metric, or None when it has no samples or the caller may not see it."""
    if not visible(info, name):
        return None
    found: metric_sql.MetricInfo | None = await context_of(info).loaders.load(
        metric_sql.by_names, None, name
    )
    return found
