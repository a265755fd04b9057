"""Alert rules: checking what a client asks for, confining it, and evaluating on demand.

Access (README): creating, changing and deleting an alert needs READ and a
target the token may see (ADMIN may touch any); an alert on a resource the
token cannot see is invisible to it, in lists and lookups alike.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import RowMapping
from strawberry.types import Info
from strawberry.types.base import StrawberryOptional, get_object_definition
from strawberry.utils.str_converters import to_camel_case

from db import alert_rules
from db import alerts as stored
from resolvers.access import READ, principal_of, require, visible
from resolvers.arguments import bounded
from resolvers.context import context_of
from resolvers.errors import GatewayError, bad_input
from schema.alert_types import AlertInput, AlertKind, Condition
from schema.endpoint_types import EndpointMetrics
from schema.model_types import ModelMetrics
from schema.product_types import ProductMetrics
from schema.targets import AlertTarget

AGGREGATIONS = ("SUM", "AVG", "MIN", "MAX", "COUNT", "MEDIAN", "P95", "P99", "LAST")
MAX_WINDOW_MINUTES = 7 * 24 * 60
MAX_BASELINE_WINDOWS = 1_000
MAX_HISTORY = 1_000


def _numeric_fields(metrics_type: type) -> tuple[str, ...]:
    """The fields of a metrics type that hold a number (the measures an alert may watch)."""
    fields = get_object_definition(metrics_type, strict=True).fields
    numeric = []
    for field in fields:
        kind = field.type.of_type if isinstance(field.type, StrawberryOptional) else field.type
        if kind in (int, float):
            numeric.append(to_camel_case(field.python_name))
    return tuple(numeric)


MEASURES: dict[AlertTarget, tuple[str, ...]] = {
    AlertTarget.PRODUCT: _numeric_fields(ProductMetrics),
    AlertTarget.ENDPOINT: _numeric_fields(EndpointMetrics),
    AlertTarget.MODEL: _numeric_fields(ModelMetrics),
    AlertTarget.METRIC: AGGREGATIONS,
}


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def rule_values(alert: AlertInput) -> dict[str, Any]:
    """The stored columns of an AlertInput, or a clear error naming the field at fault."""
    if not alert.name.strip():
        raise bad_input("input.name must not be empty", "input")
    if not alert.target_id.strip():
        raise bad_input("input.targetId must not be empty", "input")
    valid = MEASURES[alert.target]
    if alert.measure not in valid:
        raise bad_input(
            f"input.measure {alert.measure!r} is not a measure of {alert.target.value} "
            f"targets; valid: {', '.join(valid)}",
            "input",
        )
    kind = _or(alert.kind, AlertKind.THRESHOLD)
    threshold = alert.threshold
    if threshold is not None and not math.isfinite(threshold):
        raise bad_input("input.threshold must be a finite number", "input")
    if kind is AlertKind.THRESHOLD and threshold is None:
        raise bad_input("input.threshold is required for a THRESHOLD alert", "input")
    sensitivity = float(_or(alert.sensitivity, 3.0))
    if not (math.isfinite(sensitivity) and sensitivity > 0):
        raise bad_input(f"input.sensitivity must be above 0, got {sensitivity}", "input")
    return {
        "name": alert.name,
        "target": alert.target.value,
        "target_id": alert.target_id,
        "measure": alert.measure,
        "kind": kind.value,
        "condition": _or(alert.condition, Condition.GT).value,
        "threshold": threshold,
        "window_minutes": bounded(
            _or(alert.window_minutes, 5), 1, MAX_WINDOW_MINUTES, "input.windowMinutes"
        ),
        "sensitivity": sensitivity,
        "baseline_windows": bounded(
            _or(alert.baseline_windows, 12), 2, MAX_BASELINE_WINDOWS, "input.baselineWindows"
        ),
        "channels": [_channel(c.kind, c.url) for c in _or(alert.channels, [])],
        "enabled": _or(alert.enabled, True),
    }


def _channel(kind: str, url: str) -> dict[str, str]:
    if kind != "webhook":
        raise bad_input(f"input.channels: kind {kind!r} is not supported; use webhook", "input")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad_input(f"input.channels: url {url!r} is not an http(s) URL", "input")
    return {"kind": kind, "url": url}


def _alert_id(alert_id: str) -> int | None:
    return int(alert_id) if alert_id.isdigit() and len(alert_id) < 19 else None


def _confined_target(info: Info[Any, Any], target_id: str) -> None:
    if not visible(info, target_id):
        raise GatewayError(f"this token may not see {target_id!r}", "FORBIDDEN")


def _may_set_channels(info: Info[Any, Any], channels: list[dict[str, str]]) -> None:
    # A webhook makes the gateway POST to any address it can reach, internal ones
    # included: only an ADMIN may point it somewhere.
    if channels and not principal_of(info).is_admin:
        raise GatewayError(
            "input.channels: only an ADMIN token may set webhook channels", "FORBIDDEN"
        )


async def create_alert(info: Info[Any, Any], alert: AlertInput) -> RowMapping:
    """Store a new alert owned by the caller's token."""
    require(info, READ)
    values = rule_values(alert)
    _confined_target(info, values["target_id"])
    _may_set_channels(info, values["channels"])
    values["owner"] = principal_of(info).token_id
    async with context_of(info).db.write() as conn:
        return await stored.insert_alert(conn, values)


async def update_alert(info: Info[Any, Any], alert_id: str, alert: AlertInput) -> RowMapping:
    """Replace an alert's rule; its state and history stay."""
    require(info, READ)
    values = rule_values(alert)
    _confined_target(info, values["target_id"])
    _may_set_channels(info, values["channels"])
    if await find_alert(info, alert_id) is None:
        raise GatewayError(f"no alert {alert_id!r}", "NOT_FOUND")
    async with context_of(info).db.write() as conn:
        row = await stored.update_alert(conn, int(alert_id), values)
    if row is None:
        raise GatewayError(f"no alert {alert_id!r}", "NOT_FOUND")
    return row


async def delete_alert(info: Info[Any, Any], alert_id: str) -> bool:
    """Delete an alert the caller may see; false when there is none."""
    require(info, READ)
    if await find_alert(info, alert_id) is None:
        return False
    async with context_of(info).db.write() as conn:
        return await stored.delete_alert(conn, int(alert_id))


async def find_alert(info: Info[Any, Any], alert_id: str) -> RowMapping | None:
    """One alert, or None when it does not exist or the caller may not see its target."""
    require(info, READ)
    number = _alert_id(alert_id)
    if number is None:
        return None
    async with context_of(info).db.read() as conn:
        row = await stored.find_alert(conn, number)
    return row if row is not None and visible(info, row["target_id"]) else None


async def list_alerts(info: Info[Any, Any], enabled_only: bool) -> list[RowMapping]:
    """The alerts whose targets the caller may see, by id."""
    require(info, READ)
    async with context_of(info).db.read() as conn:
        rows = await stored.list_alerts(conn, enabled_only)
    return [row for row in rows if visible(info, row["target_id"])]


async def history(info: Info[Any, Any], alert_id: str, first: int) -> list[RowMapping]:
    """An alert's state changes, newest first (one statement for a whole list of alerts)."""
    bounded(first, 0, MAX_HISTORY, "first")
    found: list[RowMapping] = await context_of(info).loaders.load(stored.histories, first, alert_id)
    return found


async def evaluate_alerts(info: Info[Any, Any]) -> list[RowMapping]:
    """Evaluate every enabled alert now, notify the changes, and return the visible ones."""
    require(info, READ)
    context = context_of(info)
    changes = await alert_rules.evaluate(context.db, context.now, wait_for_lock=True)
    if context.alerting is not None:
        context.alerting.notify(changes or [])
    return await list_alerts(info, enabled_only=True)
