"""Insights of products and endpoints: the entity's measures in both windows, then one
breakdown per dimension in both windows, all through the request's loaders.

Every entity asked at once shares each statement: a page of products costs
two entity-level statements, and, when any of them changed enough, two per
dimension, whatever the number of products (the contract's insights section).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from strawberry.types import Info

from db import catalog
from db.aggregates import Group
from db.compiler import AggregateQuery, Fact
from db.facts.api_requests import API_REQUESTS
from db.facts.product_events import PRODUCT_EVENTS
from resolvers import insight_words as words
from resolvers.access import confine, visible
from resolvers.arguments import bounded, page_size, time_window
from resolvers.context import context_of
from resolvers.endpoints import ENDPOINTS
from resolvers.errors import bad_input
from resolvers.insight_rules import Examined, Finding, Observed, Slices, Tally, findings
from resolvers.products import PRODUCTS
from schema.common import TimeRange
from schema.insight_types import Insight, InsightCause
from schema.targets import AlertTarget

BASELINE_SPAN = timedelta(days=7)
Window = tuple[datetime, datetime]


@dataclass(frozen=True, eq=False)
class Subject:
    """A kind of entity insights look at: its fact table, row count and examined measures."""

    target: AlertTarget
    fact: Fact
    entities: catalog.Catalog
    rows: str
    rows_noun: str
    examined: tuple[Examined, ...]
    reason: str | None = None  # the measure naming the most common failure reason

    @property
    def measures(self) -> frozenset[str]:
        """Every fact measure one window of one entity or slice needs."""
        wanted = {self.rows, "error_count", *(e.percentile for e in self.examined if e.percentile)}
        return frozenset(wanted | ({self.reason} if self.reason else set()))


PRODUCT = Subject(
    AlertTarget.PRODUCT,
    PRODUCT_EVENTS,
    PRODUCTS,
    rows="total_events",
    rows_noun="events",
    examined=(
        Examined("errorRate"),
        Examined("p95PageLoadTimeMs", "p95_page_load_time_ms"),
        Examined("p95ApiLatencyMs", "p95_api_latency_ms"),
    ),
)
ENDPOINT = Subject(
    AlertTarget.ENDPOINT,
    API_REQUESTS,
    ENDPOINTS,
    rows="requests",
    rows_noun="requests",
    examined=(Examined("errorRate"), Examined("p95LatencyMs", "p95_latency_ms")),
    reason="top_error_reason",
)
SUBJECTS = (PRODUCT, ENDPOINT)


@dataclass(frozen=True)
class Ask:
    """The arguments of an insights field, checked and with the contract's defaults."""

    current: Window
    baseline: Window
    min_change: float
    min_rows: int


@dataclass(frozen=True)
class Found:
    """A finding of one entity, with what its words need."""

    subject: Subject
    entity_id: str
    finding: Finding
    top_reason: str | None


def ask(
    info: Info[Any, Any],
    range_: TimeRange | None,
    baseline: TimeRange | None,
    min_change: float | None,
    min_rows: int | None,
) -> Ask:
    """Windows and thresholds; baseline defaults to the 7 days before range.from."""
    now = context_of(info).now
    current = time_window(range_, now)
    before = (current[0] - BASELINE_SPAN, current[0]) if baseline is None else None
    change = 0.2 if min_change is None else min_change
    if not (math.isfinite(change) and change >= 0):
        raise bad_input(f"minChange must be a finite number >= 0, got {change}", "minChange")
    rows = bounded(100 if min_rows is None else min_rows, 0, 2**31 - 1, "minRows")
    return Ask(current, before or time_window(baseline, now, "baseline"), change, rows)


async def entity_insights(
    info: Info[Any, Any], subject: Subject, entity_id: str, asked: Ask
) -> list[Insight]:
    """The insights of one product or endpoint, in the contract's order."""
    if not visible(info, entity_id):
        return []
    return [_insight(found) for found in await _findings(info, subject, entity_id, asked)]


async def all_insights(info: Info[Any, Any], asked: Ask, first: int) -> list[Insight]:
    """Insights of every visible product and endpoint: Insight order, then target, then id."""
    context = context_of(info)
    first = page_size(first, context.settings.max_page_size, "first")
    async with context.db.read() as conn:
        ids = [(s, confine(info, await catalog.keys(conn, s.entities))) for s in SUBJECTS]
    per_entity = await asyncio.gather(
        *(_findings(info, subject, entity_id, asked) for subject, some in ids for entity_id in some)
    )
    ranked = sorted(
        (found for each in per_entity for found in each),
        key=lambda f: (f.finding.order(), f.subject.target.value, f.entity_id),
    )
    return [_insight(found) for found in ranked[:first]]


async def _findings(
    info: Info[Any, Any], subject: Subject, entity_id: str, asked: Ask
) -> list[Found]:
    load = context_of(info).loaders.aggregates.load
    windows = (asked.current, asked.baseline)
    current, baseline = [
        _tally(subject, _totals(subject, groups))
        for groups in await asyncio.gather(
            *(load((subject.fact, _question(subject, w), entity_id)) for w in windows)
        )
    ]
    whole = Observed(current, baseline, {})
    if not findings(subject.examined, whole, asked.min_change, asked.min_rows):
        return []
    dimensions = list(subject.fact.dimensions)
    grouped = await asyncio.gather(
        *(
            load((subject.fact, _question(subject, w, d), entity_id))
            for d in dimensions
            for w in windows
        )
    )
    slices = {
        d: (_by_value(subject, grouped[2 * i]), _by_value(subject, grouped[2 * i + 1]))
        for i, d in enumerate(dimensions)
    }
    observed = Observed(current, baseline, slices)
    return [
        Found(subject, entity_id, finding, current.top_reason)
        for finding in findings(subject.examined, observed, asked.min_change, asked.min_rows)
    ]


def _question(subject: Subject, window: Window, dimension: str | None = None) -> AggregateQuery:
    grouping = (dimension,) if dimension is not None else ()
    return AggregateQuery(subject.measures, *window, group_by=grouping)


def _totals(subject: Subject, groups: Sequence[Group]) -> dict[str, Any]:
    return groups[0].values if groups else subject.fact.empty_values(subject.measures)


def _tally(subject: Subject, values: dict[str, Any]) -> Tally:
    return Tally(
        rows=values[subject.rows],
        errors=values["error_count"],
        values={e.percentile: values[e.percentile] for e in subject.examined if e.percentile},
        top_reason=values[subject.reason] if subject.reason else None,
    )


def _by_value(subject: Subject, groups: Sequence[Group]) -> Slices:
    return {group.key: _tally(subject, group.values) for group in groups}


def _insight(found: Found) -> Insight:
    finding, change = found.finding, found.finding.change
    return Insight(
        target=found.subject.target,
        target_id=found.entity_id,
        measure=finding.measure,
        direction=finding.direction,
        severity=finding.severity,
        current=float(finding.current),
        baseline=float(finding.baseline),
        change=None if change is None else float(change),
        causes=[
            InsightCause(
                dimension=c.dimension,
                value=c.value,
                current=None if c.current is None else float(c.current),
                baseline=None if c.baseline is None else float(c.baseline),
                share=float(c.share),
                contribution=float(c.contribution),
            )
            for c in finding.causes
        ],
        message=words.message(finding, found.subject.rows_noun),
        recommendation=words.recommendation(finding, found.subject.target.value, found.top_reason),
    )
