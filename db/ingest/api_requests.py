"""API requests: what makes a row valid, and how endpoints are registered."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from db.facts.api_requests import API_REQUESTS
from db.ingest.batch import IngestKind
from db.ingest.bulk import Tally
from db.ingest.entities import widen
from db.ingest.shape import (
    RowContext,
    Shape,
    integer_field,
    moment,
    number_field,
    text,
    text_or,
)
from db.tables import api_requests, endpoints

DEFAULT_METHOD = "GET"


def _reason_of_failures(clean: dict[str, list[Any]], context: RowContext) -> None:
    """errorReason is kept for failed requests only (the contract ignores it otherwise)."""
    clean["error_reason"] = [
        None if status is not None and 200 <= status < 400 else reason
        for status, reason in zip(clean["status_code"], clean["error_reason"], strict=True)
    ]


API_REQUEST_SHAPE = Shape(
    (
        text("requestId", "request_id", required=True),
        moment("timestamp", "ts"),
        text("endpoint", "endpoint", required=True),
        text_or("method", "method", DEFAULT_METHOD),
        integer_field("statusCode", "status_code", 100, 599),
        number_field("latencyMs", "latency_ms", required=True, non_negative=True),
        text("region", "region"),
        text("deviceType", "device_type"),
        text("documentType", "document_type"),
        text("errorReason", "error_reason", empty_is_null=True),
        text("userId", "user_id"),
        text("sessionId", "session_id"),
    ),
    _reason_of_failures,
)


async def register_endpoints(conn: AsyncConnection, tally: Sequence[RowMapping]) -> None:
    """Create the endpoints that newly stored requests belong to, or widen their
    first_seen / last_seen; a configured endpoint keeps its configuration."""
    entries = [
        {"name": row["endpoint"], "first_seen": row["first_seen"], "last_seen": row["last_seen"]}
        for row in tally
    ]
    await widen(conn, endpoints, ("name",), entries)


API_REQUEST = IngestKind(
    kind="API_REQUEST",
    table=api_requests,
    id_column="request_id",
    shape=API_REQUEST_SHAPE,
    tally=Tally(("endpoint",)),
    register=register_endpoints,
    fact=API_REQUESTS,
)
