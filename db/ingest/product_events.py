"""Product events: what makes a row valid (checked in order), and how products are registered."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, or_
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from db.facts.product_events import PRODUCT_EVENTS
from db.ingest.batch import IngestKind
from db.ingest.entities import spans, widen
from db.ingest.shape import RowContext, Shape, document, flag, moment, number_field, text
from db.tables import product_events, products


def _is_error(clean: dict[str, list[Any]], context: RowContext) -> None:
    """isError when given, else whether an errorCode was."""
    clean["is_error"] = [
        flagged if flagged is not None else code is not None
        for flagged, code in zip(clean["is_error"], clean["error_code"], strict=True)
    ]


PRODUCT_EVENT_SHAPE = Shape(
    (
        text("errorCode", "error_code", empty_is_null=True),
        flag("isError", "is_error"),
        document("properties", "properties"),
        text("eventId", "event_id", required=True),
        moment("timestamp", "ts"),
        text("productId", "product_id", required=True),
        text("productName", "product_name", empty_is_null=True),
        text("eventType", "event_type", required=True),
        text("userId", "user_id"),
        text("sessionId", "session_id"),
        number_field("durationMs", "duration_ms", non_negative=True),
        number_field("pageLoadTimeMs", "page_load_time_ms", non_negative=True),
        number_field("apiLatencyMs", "api_latency_ms", non_negative=True),
        text("source", "source"),
        text("deviceType", "device_type"),
        text("country", "country"),
    ),
    _is_error,
)


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
    shape=PRODUCT_EVENT_SHAPE,
    returning=("product_id", "ts", "product_name"),
    register=register_products,
    fact=PRODUCT_EVENTS,
)
