"""The aggregate fields every entity kind shares (metrics, slices, points, top errors),
each answered through the per-request loaders from one fact declaration.

A ``FactKind`` ties a fact to the types that show it; ``measures``,
``breakdown`` and ``timeseries`` shape the answers into those types, so no
kind writes its own wrappers (schema/fact_fields.py builds the fields).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from strawberry.types import Info

from db.aggregates import Group
from db.compiler import AggregateQuery, Fact
from resolvers.arguments import bounded, filter_values, selected_measures, time_window
from resolvers.context import context_of
from resolvers.loaders import Loaders
from schema.common import ErrorCount, Granularity, MeasureSet, TimeRange

MAX_GROUPS = 1000


@dataclass(frozen=True, eq=False)
class FactKind:
    """A fact and the GraphQL types of its shared fields.

    ``dimension`` is the enum whose values are the fact's dimension keys;
    ``filter`` the input whose fields are its filter keys; ``slice`` and
    ``point`` take (value | bucket, metrics); ``entity`` names the node
    attribute that holds the entity id.
    """

    fact: Fact
    metrics: type[MeasureSet]
    slice: type[Any]
    point: type[Any]
    dimension: type[Enum]
    filter: type[Any]
    entity: str


async def measures(
    info: Info[Any, Any], kind: FactKind, entity_id: str, range_: TimeRange | None, filter_: Any
) -> MeasureSet:
    """The kind's metrics type over range and filter, with the selected measures."""
    return kind.metrics.of(await metrics(info, kind.fact, entity_id, range_, filter_))


async def breakdown(
    info: Info[Any, Any],
    kind: FactKind,
    entity_id: str,
    by: Enum,
    range_: TimeRange | None,
    filter_: Any,
    limit: int,
) -> list[Any]:
    """The kind's slices: one per dimension value, by the fact's rank descending, then value."""
    groups = await slices(info, kind.fact, entity_id, by.value, range_, filter_, limit)
    return [kind.slice(value=g.key, metrics=kind.metrics.of(g.values)) for g in groups]


async def timeseries(
    info: Info[Any, Any],
    kind: FactKind,
    entity_id: str,
    granularity: Granularity,
    range_: TimeRange | None,
    filter_: Any,
) -> list[Any]:
    """The kind's points: one per bucket that has rows, in time order."""
    groups = await points(info, kind.fact, entity_id, granularity, range_, filter_)
    return [kind.point(bucket=g.key, metrics=kind.metrics.of(g.values)) for g in groups]


def question(
    info: Info[Any, Any],
    fact: Fact,
    range_: TimeRange | None,
    filter_: Any,
    measures: frozenset[str],
    **grouping: Any,
) -> AggregateQuery:
    """The AggregateQuery for a field's range, filter input and grouping."""
    start, end = time_window(range_, context_of(info).now)
    return AggregateQuery(measures, start, end, filter_values(filter_, fact.filters), **grouping)


async def totals(
    info: Info[Any, Any], fact: Fact, entity_id: str, asked: AggregateQuery
) -> dict[str, Any]:
    """One entity's measures; the zero-row values when nothing matches."""
    return await measured(context_of(info).loaders, fact, entity_id, asked)


async def measured(
    loaders: Loaders, fact: Fact, entity_id: str, asked: AggregateQuery
) -> dict[str, Any]:
    """totals() through given loaders (a subscription's fresh ones for each value it sends)."""
    if not asked.measures:
        return {}
    groups = await loaders.aggregates.load((fact, asked, entity_id))
    return groups[0].values if groups else fact.empty_values(asked.measures)


async def metrics(
    info: Info[Any, Any], fact: Fact, entity_id: str, range_: TimeRange | None, filter_: Any
) -> dict[str, Any]:
    """The measures selected under the current field, over range and filter."""
    measures = selected_measures(info, fact.measures)
    return await totals(info, fact, entity_id, question(info, fact, range_, filter_, measures))


async def slices(
    info: Info[Any, Any],
    fact: Fact,
    entity_id: str,
    by: str,
    range_: TimeRange | None,
    filter_: Any,
    limit: int,
) -> list[Group]:
    """One group per dimension value, ranked, with the measures selected under `metrics`."""
    bounded(limit, 0, MAX_GROUPS, "limit")
    return await _grouped(info, fact, entity_id, range_, filter_, group_by=(by,), limit=limit)


async def points(
    info: Info[Any, Any],
    fact: Fact,
    entity_id: str,
    granularity: Granularity,
    range_: TimeRange | None,
    filter_: Any,
) -> list[Group]:
    """One group per time bucket that has rows, in time order."""
    return await _grouped(info, fact, entity_id, range_, filter_, granularity=granularity.value)


async def _grouped(
    info: Info[Any, Any],
    fact: Fact,
    entity_id: str,
    range_: TimeRange | None,
    filter_: Any,
    **grouping: Any,
) -> list[Group]:
    measures = selected_measures(info, fact.measures, "metrics")
    asked = question(info, fact, range_, filter_, measures, **grouping)
    groups: list[Group] = await context_of(info).loaders.aggregates.load((fact, asked, entity_id))
    return groups


async def top_errors(
    info: Info[Any, Any],
    fact: Fact,
    entity_id: str,
    range_: TimeRange | None,
    filter_: Any,
    limit: int,
) -> list[ErrorCount]:
    """Non-empty error labels, most frequent first, share over every error row."""
    bounded(limit, 0, MAX_GROUPS, "limit")
    asked = question(info, fact, range_, filter_, frozenset(), limit=limit)
    ranked = await context_of(info).loaders.top_errors.load((fact, asked, entity_id))
    return [
        ErrorCount(error=r.error, count=r.count, share=r.share, last_seen=r.last_seen)
        for r in ranked
    ]
