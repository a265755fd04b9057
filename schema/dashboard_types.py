"""Leaf types of dashboards: the inputs a client saves."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON


@strawberry.input
class WidgetInput:
    title: str
    query: str = strawberry.field(
        description="a GraphQL query document against this schema; validated on save"
    )
    variables: JSON | None = None
    visualization: JSON | None = strawberry.field(
        default=None,
        description='how the console draws it, e.g. {"type": "line"|"bar"|"tile", ...}',
    )
    refresh_seconds: int | None = 60


@strawberry.input
class DashboardInput:
    name: str
    description: str | None = None
    widgets: list[WidgetInput]
    is_public: bool | None = False
