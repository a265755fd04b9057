"""The Alert node and the alert root fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.engine import RowMapping
from strawberry.types import Info

from resolvers import alerts as resolve
from schema.alert_types import (
    AlertEvent,
    AlertInput,
    AlertKind,
    AlertState,
    Condition,
)
from schema.common import or_default
from schema.targets import AlertTarget


@strawberry.type
class Alert:
    id: strawberry.ID
    name: str
    target: AlertTarget
    target_id: str
    measure: str
    kind: AlertKind
    condition: Condition
    threshold: float | None
    window_minutes: int
    sensitivity: float = strawberry.field(description="ANOMALY: deviations that fire")
    baseline_windows: int = strawberry.field(description="ANOMALY: earlier windows compared")
    enabled: bool
    state: AlertState
    last_value: float | None
    last_evaluated_at: datetime | None
    last_triggered_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: RowMapping) -> Alert:
        """An alert node from its stored row."""
        return cls(
            id=strawberry.ID(str(row["id"])),
            name=row["name"],
            target=AlertTarget(row["target"]),
            target_id=row["target_id"],
            measure=row["measure"],
            kind=AlertKind(row["kind"]),
            condition=Condition(row["condition"]),
            threshold=row["threshold"],
            window_minutes=row["window_minutes"],
            sensitivity=row["sensitivity"],
            baseline_windows=row["baseline_windows"],
            enabled=row["enabled"],
            state=AlertState(row["state"]),
            last_value=row["last_value"],
            last_evaluated_at=row["last_evaluated_at"],
            last_triggered_at=row["last_triggered_at"],
            created_at=row["created_at"],
        )

    @strawberry.field(description="state changes, newest first")
    async def history(self, info: Info[Any, Any], first: int | None = 50) -> list[AlertEvent]:
        rows = await resolve.history(info, self.id, or_default(first, 50))
        return [AlertEvent.of(row) for row in rows]


@strawberry.type
class AlertQuery:
    @strawberry.field(description="alerts whose target the caller may see, by id")
    async def alerts(self, info: Info[Any, Any], enabled_only: bool | None = False) -> list[Alert]:
        return [Alert.of(row) for row in await resolve.list_alerts(info, bool(enabled_only))]

    @strawberry.field
    async def alert(self, info: Info[Any, Any], id: strawberry.ID) -> Alert | None:
        row = await resolve.find_alert(info, id)
        return Alert.of(row) if row is not None else None


@strawberry.type
class AlertMutation:
    @strawberry.mutation
    async def create_alert(self, info: Info[Any, Any], input: AlertInput) -> Alert:
        return Alert.of(await resolve.create_alert(info, input))

    @strawberry.mutation
    async def update_alert(
        self, info: Info[Any, Any], id: strawberry.ID, input: AlertInput
    ) -> Alert:
        return Alert.of(await resolve.update_alert(info, id, input))

    @strawberry.mutation
    async def delete_alert(self, info: Info[Any, Any], id: strawberry.ID) -> bool:
        return await resolve.delete_alert(info, id)

    @strawberry.mutation(description="evaluates every enabled alert now and returns them")
    async def evaluate_alerts(self, info: Info[Any, Any]) -> list[Alert]:
        return [Alert.of(row) for row in await resolve.evaluate_alerts(info)]
