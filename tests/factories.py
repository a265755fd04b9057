"""Builders for the rows tests ingest, with unique ids and sensible defaults."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

_ids = itertools.count(1)


def iso(value: datetime) -> str:
    """A datetime as the DateTime scalar takes it."""
    return value.isoformat()


def product_event(at: datetime, **fields: Any) -> dict[str, Any]:
    """A ProductEventInput (camelCase) at `at`; fields override the defaults."""
    row: dict[str, Any] = {
        "eventId": f"e-{next(_ids)}",
        "timestamp": iso(at),
        "productId": "shop",
        "eventType": "page_view",
    }
    row.update(fields)
    return row


INGEST_PRODUCT_EVENTS = """
mutation($events: [ProductEventInput!]!) {
  ingestProductEvents(events: $events) { accepted duplicates rejected { index field message } }
}
"""
