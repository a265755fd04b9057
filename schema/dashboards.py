"""Saved dashboards: Dashboard and Widget nodes, their queries and mutations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.engine import RowMapping
from strawberry.scalars import JSON
from strawberry.types import Info

from resolvers import dashboards as resolve
from schema.dashboard_types import DashboardInput


@strawberry.type
class Widget:
    id: strawberry.ID
    title: str
    query: str
    variables: JSON | None
    visualization: JSON | None
    refresh_seconds: int

    @classmethod
    def of(cls, stored: dict[str, Any]) -> Widget:
        """A widget from its stored form."""
        return cls(**{**stored, "id": strawberry.ID(stored["id"])})

    @strawberry.field(
        description="the result of running query with variables, with the caller's rights"
    )
    async def data(self, info: Info[Any, Any]) -> JSON | None:
        return await resolve.widget_data(info, self.query, self.variables)


@strawberry.type
class Dashboard:
    id: strawberry.ID
    name: str
    description: str | None
    is_public: bool
    created_at: datetime
    updated_at: datetime
    widgets: list[Widget]

    @classmethod
    def of(cls, row: RowMapping) -> Dashboard:
        """A dashboard node from its row."""
        columns = ("name", "description", "is_public", "created_at", "updated_at")
        return cls(
            id=strawberry.ID(row["id"]),
            widgets=[Widget.of(w) for w in resolve.widget_rows(row)],
            **{column: row[column] for column in columns},
        )


@strawberry.type
class DashboardQuery:
    @strawberry.field(description="public dashboards and the caller's own (ADMIN: all), by name")
    async def dashboards(self, info: Info[Any, Any]) -> list[Dashboard]:
        return [Dashboard.of(row) for row in await resolve.dashboards(info)]

    @strawberry.field
    async def dashboard(self, info: Info[Any, Any], id: strawberry.ID) -> Dashboard | None:
        row = await resolve.find_dashboard(info, id)
        return Dashboard.of(row) if row is not None else None


@strawberry.type
class DashboardMutation:
    @strawberry.mutation(description="owned by the calling token; every widget query is validated")
    async def create_dashboard(self, info: Info[Any, Any], input: DashboardInput) -> Dashboard:
        return Dashboard.of(await resolve.create_dashboard(info, input))

    @strawberry.mutation(description="replaces the whole dashboard; its owner or ADMIN only")
    async def update_dashboard(
        self, info: Info[Any, Any], id: strawberry.ID, input: DashboardInput
    ) -> Dashboard:
        return Dashboard.of(await resolve.update_dashboard(info, id, input))

    @strawberry.mutation(description="false when no dashboard the caller sees has this id")
    async def delete_dashboard(self, info: Info[Any, Any], id: strawberry.ID) -> bool:
        return await resolve.delete_dashboard(info, id)
