"""The fields every fact kind shares, built once from its FactKind.

``metrics_field``, ``top_errors_field``, ``breakdown_field`` and
``timeseries_field`` make a node's Strawberry fields for any fact: the
argument and return types come from the kind (its filter input, dimension
enum, metrics, slice and point types) and every field delegates to
resolvers/aggregates.py. A new fact kind declares a FactKind and assigns
these fields; it writes no wrappers.
"""

from __future__ import annotations

from collections.abc import Callable
from types import GenericAlias
from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import aggregates
from resolvers.aggregates import FactKind
from schema.common import ErrorCount, Granularity, TimeRange, or_default


def _field(
    kind: FactKind,
    resolver: Callable[..., Any],
    arguments: dict[str, Any],
    returns: Any,
    description: str | None,
) -> Any:
    # The argument types depend on the kind, so the resolver's annotations are
    # set here, as values, rather than written in its signature.
    resolver.__annotations__ = {
        "info": Info[Any, Any],
        **arguments,
        "range": TimeRange | None,
        "filter": kind.filter | None,
        "return": returns,
    }
    return strawberry.field(resolver=resolver, description=description)


def _entity(kind: FactKind, node: Any) -> str:
    return str(getattr(node, kind.entity))


def metrics_field(kind: FactKind, description: str | None = None) -> Any:
    """The kind's metrics over a range and filter (Product.overview, Endpoint.stats)."""

    async def resolve(self: Any, info: Any, range: Any = None, filter: Any = None) -> Any:
        return await aggregates.measures(info, kind, _entity(kind, self), range, filter)

    return _field(kind, resolve, {}, kind.metrics, description)


def top_errors_field(kind: FactKind, description: str | None = None) -> Any:
    """The kind's most frequent error labels (Product.topErrors, Endpoint.errors)."""

    async def resolve(
        self: Any, info: Any, range: Any = None, filter: Any = None, limit: Any = 10
    ) -> Any:
        entity_id = _entity(kind, self)
        limit = or_default(limit, 10)
        return await aggregates.top_errors(info, kind.fact, entity_id, range, filter, limit)

    return _field(kind, resolve, {"limit": int | None}, list[ErrorCount], description)


def breakdown_field(kind: FactKind, description: str | None = None) -> Any:
    """One slice per value of a dimension of the kind."""

    async def resolve(
        self: Any, info: Any, by: Any, range: Any = None, filter: Any = None, limit: Any = 50
    ) -> Any:
        entity_id, limit = _entity(kind, self), or_default(limit, 50)
        return await aggregates.breakdown(info, kind, entity_id, by, range, filter, limit)

    arguments = {"by": kind.dimension, "limit": int | None}
    return _field(kind, resolve, arguments, GenericAlias(list, (kind.slice,)), description)


def timeseries_field(kind: FactKind, description: str | None = None) -> Any:
    """One point per time bucket of the kind that has rows."""

    async def resolve(
        self: Any, info: Any, granularity: Any, range: Any = None, filter: Any = None
    ) -> Any:
        entity_id = _entity(kind, self)
        return await aggregates.timeseries(info, kind, entity_id, granularity, range, filter)

    arguments = {"granularity": Granularity}
    return _field(kind, resolve, arguments, GenericAlias(list, (kind.point,)), description)
