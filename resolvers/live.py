"""Subscriptions: a first value at once, then a fresh one after each ingest that
touches the watched entity (at most once a second, see gateway.live).

Each value is computed the way the queries compute it (the same loaders,
compiler and selected measures), with a fresh context so its clock and
loaders are new for every push.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import RowMapping
from strawberry.types import Info

from db import alerts as stored
from db import notify
from db.compiler import AggregateQuery, Fact
from gateway.live import Broker
from resolvers import aggregates
from resolvers.access import READ, require, visible
from resolvers.alerts import MAX_WINDOW_MINUTES, find_alert
from resolvers.arguments import bounded, filter_values, selected_measures
from resolvers.context import GatewayContext, context_of
from resolvers.errors import GatewayError


def _broker(context: GatewayContext) -> Broker:
    if context.live is None:
        raise GatewayError(
            "subscriptions are served over graphql-transport-ws by a running gateway",
            "UNAVAILABLE",
        )
    return context.live


async def metrics_updates(
    info: Info[Any, Any],
    fact: Fact,
    kind: str,
    entity_id: str,
    window_minutes: int,
    filter_: Any,
) -> AsyncIterator[dict[str, Any]]:
    """The selected measures of one entity over the last window_minutes, on every change."""
    require(info, READ)
    if not visible(info, entity_id):
        raise GatewayError(f"this token may not see {entity_id!r}", "FORBIDDEN")
    bounded(window_minutes, 1, MAX_WINDOW_MINUTES, "windowMinutes")
    context = context_of(info)
    measures = selected_measures(info, fact.measures)
    filters = filter_values(filter_, fact.filters)
    window = timedelta(minutes=window_minutes)
    async with _broker(context).watch([(kind, entity_id)]) as watch:
        async for _ in watch.changes():
            fresh = GatewayContext(context.db, context.settings, principal=context.principal)
            asked = AggregateQuery(measures, fresh.now - window, fresh.now, filters)
            yield await aggregates.measured(fresh.loaders, fact, entity_id, asked)


async def alert_event_updates(
    info: Info[Any, Any], alert_id: str | None
) -> AsyncIterator[RowMapping]:
    """Every state change recorded from now on, of one alert or of every visible alert."""
    require(info, READ)
    context = context_of(info)
    ids: list[int] | None = None
    if alert_id is not None:
        found = await find_alert(info, alert_id)
        if found is None:
            raise GatewayError(f"no alert {alert_id!r}", "NOT_FOUND")
        ids = [found["id"]]
    topics = [(notify.ALERT_EVENT, None if ids is None else str(ids[0]))]
    async with context.db.read() as conn:
        after = await stored.last_event_id(conn)
    async with _broker(context).watch(topics) as watch:
        async for _ in watch.changes():
            async with context.db.read() as conn:
                events = await stored.events_after(conn, after, ids)
            for event in events:
                after = event["id"]
                if visible(info, event["target_id"]):
                    yield event
