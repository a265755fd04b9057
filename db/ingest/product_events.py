"""Product events: what makes a row valid (checked in order), and how products are registered."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import FromClause, Text, case, func, or_, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from db.facts.product_events import PRODUCT_EVENTS
from db.ingest.batch import IngestKind
from db.ingest.bulk import Tally
from db.ingest.entities import widen
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


def _newest_name(inserted: FromClause) -> dict[str, ColumnElement[Any]]:
    """Of a product's inserted events that name it, the newest one's name (of
    events at the same time, the greatest eventId's) and its time."""
    named = inserted.c.product_name.is_not(None)
    newest_first = aggregate_order_by(
        inserted.c.product_name, inserted.c.ts.desc(), inserted.c.event_id.desc()
    )
    names = type_coerce(func.array_agg(newest_first).filter(named), ARRAY(Text))
    return {"name": names[1], "name_seen_at": func.max(inserted.c.ts).filter(named)}


async def register_products(conn: AsyncConnection, tally: Sequence[RowMapping]) -> None:
    """Create or widen the products that newly stored events belong to.

    A product's name is the productName of its newest event that has one.
    """
    entries = [
        {
            "id": row["product_id"],
            "first_seen": row["first_seen"],
            "last_seen": row["last_seen"],
            "name_seen_at": row["name_seen_at"],
            "name": row["name"],
        }
        for row in tally
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
    tally=Tally(("product_id",), also=_newest_name, reads=("product_name", "event_id")),
    register=register_products,
    fact=PRODUCT_EVENTS,
)
