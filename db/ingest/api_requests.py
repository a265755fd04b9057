"""API requests: what makes a row valid, and how endpoints are registered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from db.facts.api_requests import API_REQUESTS
from db.ingest.batch import IngestKind, RowContext
from db.ingest.entities import spans, widen
from db.ingest.fields import RowError, integer, number, optional_text, required_text, timestamp
from db.tables import api_requests, endpoints

DEFAULT_METHOD = "GET"


def validate_api_request(raw: Mapping[str, Any], context: RowContext) -> dict[str, Any]:
    """The stored row for one ApiRequestInput, or RowError.

    errorReason is kept for failed requests only (the contract ignores it otherwise).
    """
    row: dict[str, Any] = {
        "request_id": required_text(raw, "requestId"),
        "ts": timestamp(raw, "timestamp", now=context.now, tolerance=context.future_tolerance),
        "endpoint": required_text(raw, "endpoint"),
        "method": _method(raw),
        "status_code": integer(raw, "statusCode", low=100, high=599),
        "latency_ms": number(raw, "latencyMs", required=True, non_negative=True),
        "region": optional_text(raw, "region"),
        "device_type": optional_text(raw, "deviceType"),
        "document_type": optional_text(raw, "documentType"),
        "error_reason": optional_text(raw, "errorReason") or None,
        "user_id": optional_text(raw, "userId"),
        "session_id": optional_text(raw, "sessionId"),
    }
    if 200 <= row["status_code"] < 400:
        row["error_reason"] = None
    return row


def _method(raw: Mapping[str, Any]) -> str:
    method = optional_text(raw, "method")
    if method is None:
        return DEFAULT_METHOD
    if not method.strip():
        raise RowError("method", "method must not be empty (omit it for GET)")
    return method


async def register_endpoints(conn: AsyncConnection, inserted: Sequence[RowMapping]) -> None:
    """Create the endpoints that newly stored requests belong to, or widen their
    first_seen / last_seen; a configured endpoint keeps its configuration."""
    found = spans((row["endpoint"], row["ts"]) for row in inserted)
    await widen(conn, endpoints, ("name",), [{"name": k, **v} for k, v in found.items()])


API_REQUEST = IngestKind(
    kind="API_REQUEST",
    table=api_requests,
    id_column="request_id",
    validate=validate_api_request,
    returning=("endpoint", "ts"),
    register=register_endpoints,
    fact=API_REQUESTS,
)
