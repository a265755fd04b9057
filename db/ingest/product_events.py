"""Product events: what makes a row valid, and how products are registered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from db.facts.product_events import PRODUCT_EVENTS
from db.ingest.batch import IngestKind, RowContext
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
    seen: dict[str, dict[str, Any]] = {}
    for row in inserted:
        entry = seen.setdefault(
            row["product_id"],
            {
                "id": row["product_id"],
                "first_seen": row["ts"],
                "last_seen": row["ts"],
                "name": None,
                "name_seen_at": None,
            },
        )
        entry["first_seen"] = min(entry["first_seen"], row["ts"])
        entry["last_seen"] = max(entry["last_seen"], row["ts"])
        named_at: datetime | None = entry["name_seen_at"]
        if row["product_name"] and (named_at is None or row["ts"] >= named_at):
            entry["name"], entry["name_seen_at"] = row["product_name"], row["ts"]
    statement = insert(products).values(sorted(seen.values(), key=lambda e: e["id"]))
    new = statement.excluded
    newer_name = (new.name.is_not(None)) & or_(
        products.c.name_seen_at.is_(None), new.name_seen_at >= products.c.name_seen_at
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[products.c.id],
            set_={
                "first_seen": func.least(products.c.first_seen, new.first_seen),
                "last_seen": func.greatest(products.c.last_seen, new.last_seen),
                "name": case((newer_name, new.name), else_=products.c.name),
                "name_seen_at": case((newer_name, new.name_seen_at), else_=products.c.name_seen_at),
            },
        )
    )


PRODUCT_EVENT = IngestKind(
    kind="PRODUCT_EVENT",
    table=product_events,
    id_column="event_id",
    validate=validate_product_event,
    returning=("product_id", "ts", "product_name"),
    register=register_products,
    fact=PRODUCT_EVENTS,
)
