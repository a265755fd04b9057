"""Product events: what makes a row valid, and how products are registered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, or_
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from db.facts.product_events import PRODUCT_EVENTS
from db.ingest.batch import IngestKind, RowContext
from db.ingest.entities import spans, widen
from db.ingest.fields import (
    RowError,
    number,
    optional_bool,
    optional_text,
    required_text,
    timestamp,
)
from db.tables import product_events, products


def validate_product_event(raw: Mapping[str, Any], context: RowContext) -> dict[str, Any]:
    """The stored row for one ProductEventInput, or RowError."""
    error_code = optional_text(raw, "errorCode") or None
    is_error = optional_bool(raw, "isError")
    properties = raw.get("properties")
    if properties is not None and not isinstance(properties, dict | list | str | int | float):
        raise RowError("properties", "properties must be JSON")
    return {
        "event_id": required_text(raw, "eventId"),
        "ts": timestamp(raw, "timestamp", now=context.now, tolerance=context.future_tolerance),
        "product_id": required_text(raw, "productId"),
        "product_name": optional_text(raw, "productName") or None,
        "event_type": required_text(raw, "eventType"),
        "user_id": optional_text(raw, "userId"),
        "session_id": optional_text(raw, "sessionId"),
        "duration_ms": number(raw, "durationMs", non_negative=True),
        "error_code": error_code,
        "page_load_time_ms": number(raw, "pageLoadTimeMs", non_negative=True),
        "api_latency_ms": number(raw, "apiLatencyMs", non_negative=True),
        "is_error": is_error if is_error is not None else error_code is not None,
        "source": optional_text(raw, "source"),
        "device_type": optional_text(raw, "deviceType"),
        "country": optional_text(raw, "country"),
        "properties": properties,
    }


async def register_products(conn: AsyncConnection, inserted: Sequence[RowMapping]) -> None:
    """Create or widen the products that newly stored events belong to.

    A product's name is the productName of its newest event that has one.
    """
    found = spans((row["product_id"], row["ts"]) for row in inserted)
    named: dict[str, tuple[datetime | None, str | None]] = {}
    for row in inserted:
        name, at, known = row["product_name"], row["ts"], named.get(row["product_id"])
        if name and (known is None or at >= known[0]):
            named[row["product_id"]] = (at, name)
    entries = [
        {"id": k, **v, "name_seen_at": seen_at, "name": name}
        for k, v in found.items()
        for seen_at, name in [named.get(k, (None, None))]
    ]
    await widen(conn, products, ("id",), entries, _newer_name)


def _newer_name(new: Any) -> dict[str, Any]:
    """Take the batch's name when it was seen no earlier than the stored one."""
    newer = (new.name.is_not(None)) & or_(
        products.c.name_seen_at.is_(None), new.name_seen_at >= products.c.name_seen_at
    )
    return {
        "name": case((newer, new.name), else_=products.c.name),
        "name_seen_at": case((newer, new.name_seen_at), else_=products.c.name_seen_at),
    }


PRODUCT_EVENT = IngestKind(
    kind="PRODUCT_EVENT",
    table=product_events,
    id_column="event_id",
    validate=validate_product_event,
    returning=("product_id", "ts", "product_name"),
    register=register_products,
    fact=PRODUCT_EVENTS,
)
