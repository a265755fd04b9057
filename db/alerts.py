"""Alerts and their history: the stored rules, their state, and each state change."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from db import notify
from db.tables import alert_events, alerts


async def insert_alert(conn: AsyncConnection, values: Mapping[str, Any]) -> RowMapping:
    """Store a new alert; its row."""
    row = await conn.execute(alerts.insert().values(**values).returning(*alerts.c))
    return row.mappings().one()


async def update_alert(
    conn: AsyncConnection, alert_id: int, values: Mapping[str, Any]
) -> RowMapping | None:
    """Replace an alert's rule (its state and history stay); None when it does not exist."""
    statement = alerts.update().where(alerts.c.id == alert_id).values(**values)
    row = await conn.execute(statement.returning(*alerts.c))
    return row.mappings().one_or_none()


async def delete_alert(conn: AsyncConnection, alert_id: int) -> bool:
    """Delete an alert and its history; whether it existed."""
    result = await conn.execute(alerts.delete().where(alerts.c.id == alert_id))
    return result.rowcount > 0


async def find_alert(conn: AsyncConnection, alert_id: int) -> RowMapping | None:
    """One alert's row, or None."""
    row = await conn.execute(select(alerts).where(alerts.c.id == alert_id))
    return row.mappings().one_or_none()


async def list_alerts(conn: AsyncConnection, enabled_only: bool = False) -> list[RowMapping]:
    """Every alert (or every enabled one), by id."""
    statement = select(alerts).order_by(alerts.c.id)
    if enabled_only:
        statement = statement.where(alerts.c.enabled)
    return list((await conn.execute(statement)).mappings())


async def histories(
    conn: AsyncConnection, first: int, alert_ids: Sequence[str]
) -> dict[str, list[RowMapping]]:
    """The newest `first` state changes of each alert, newest first, in one statement."""
    position = (
        func.row_number()
        .over(partition_by=alert_events.c.alert_id, order_by=alert_events.c.id.desc())
        .label("position")
    )
    ranked = (
        select(alert_events, position)
        .where(alert_events.c.alert_id.in_([int(i) for i in alert_ids]))
        .subquery()
    )
    statement = (
        select(ranked)
        .where(ranked.c.position <= first)
        .order_by(ranked.c.alert_id, ranked.c.position)
    )
    found: dict[str, list[RowMapping]] = defaultdict(list)
    for row in (await conn.execute(statement)).mappings():
        found[str(row["alert_id"])].append(row)
    return {alert_id: found.get(alert_id, []) for alert_id in alert_ids}


async def events_after(
    conn: AsyncConnection, after_id: int, alert_ids: Sequence[int] | None
) -> list[RowMapping]:
    """State changes recorded after event after_id, oldest first (all alerts when ids is
    None), each with its alert's target_id."""
    statement = (
        select(alert_events, alerts.c.target_id)
        .join(alerts, alerts.c.id == alert_events.c.alert_id)
        .where(alert_events.c.id > after_id)
    )
    if alert_ids is not None:
        statement = statement.where(alert_events.c.alert_id.in_(list(alert_ids)))
    return list((await conn.execute(statement.order_by(alert_events.c.id))).mappings())


async def last_event_id(conn: AsyncConnection) -> int:
    """The id of the newest recorded state change (0 when none)."""
    return int(await conn.scalar(select(func.coalesce(func.max(alert_events.c.id), 0))) or 0)


async def record_change(
    conn: AsyncConnection,
    alert: RowMapping,
    state: str,
    value: float | None,
    message: str,
    at: datetime,
) -> RowMapping:
    """Move an alert to a new state and record the change; the event's row."""
    triggered = at if state == "FIRING" else alert["last_triggered_at"]
    await conn.execute(
        alerts.update()
        .where(alerts.c.id == alert["id"])
        .values(state=state, last_value=value, last_evaluated_at=at, last_triggered_at=triggered)
    )
    event = await conn.execute(
        alert_events.insert()
        .values(alert_id=alert["id"], at=at, state=state, value=value, message=message)
        .returning(*alert_events.c)
    )
    return event.mappings().one()


async def record_unchanged(
    conn: AsyncConnection, alert_ids_values: Sequence[tuple[int, float | None]], at: datetime
) -> None:
    """Note the evaluation time and value of alerts whose state did not change."""
    if not alert_ids_values:
        return
    statement = (
        alerts.update()
        .where(alerts.c.id == bindparam("alert_id"))
        .values(last_value=bindparam("value"), last_evaluated_at=at)
    )
    await conn.execute(statement, [{"alert_id": i, "value": v} for i, v in alert_ids_values])


async def announce(conn: AsyncConnection, alert_ids: Sequence[int]) -> None:
    """Tell every gateway (on commit) which alerts changed state."""
    if alert_ids:
        await notify.publish(conn, notify.ALERT_EVENT, [str(i) for i in alert_ids])


async def append_delivery_note(conn: AsyncConnection, event_id: int, note: str) -> None:
    """Add a webhook delivery outcome to a state change's message."""
    await conn.execute(
        alert_events.update()
        .where(alert_events.c.id == event_id)
        .values(message=alert_events.c.message + "; " + note)
    )
