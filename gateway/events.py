"""`POST /v0/events?name=<datasource>`: NDJSON ingest as Tinybird's Events API takes it.

The contract is ../shared/contract/pipes.md (section Events). A body is one
batch and one transaction through the same writer as the mutations. At most
GATEWAY_INGEST_CONCURRENCY bodies are handled at once; one more is told to
come back (429 with Retry-After) instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, Response

from db.engine import Database
from db.ingest.batch import IngestFailed, IngestOutcome, store
from gateway import telemetry
from gateway.auth import authenticate
from gateway.event_rows import DATA_SOURCES, DataSource, check_body, rejection_answer
from gateway.settings import Settings
from resolvers.access import APPEND

SHOWN_REJECTIONS = 100
RETRY_AFTER_SECONDS = "1"


class EventsRefused(Exception):
    """A request refused whole, with its status, reason and extra headers."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


def _source(request: Request) -> DataSource:
    name = request.query_params.get("name")
    if not name:
        raise EventsRefused(400, f"name is required; one of {', '.join(DATA_SOURCES)}")
    if name not in DATA_SOURCES:
        raise EventsRefused(404, f"unknown data source {name!r}; one of {', '.join(DATA_SOURCES)}")
    return DATA_SOURCES[name]


def _wait(request: Request) -> bool:
    value = request.query_params.get("wait", "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise EventsRefused(400, f"wait must be true or false, got {value!r}")
    return value in ("true", "1")


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it passes limit bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise EventsRefused(413, f"the body is {declared} bytes; at most {limit} are accepted")
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise EventsRefused(413, f"the body is over {limit} bytes; split it")
        parts.append(part)
    return b"".join(parts)


def answer(outcome: IngestOutcome) -> dict[str, Any]:
    """The Events API's answer: counts and the first rejected rows."""
    return {
        "successful_rows": outcome.accepted,
        "quarantined_rows": len(outcome.rejected),
        "duplicates": outcome.duplicates,
        "rejected": [rejection_answer(r) for r in outcome.rejected[:SHOWN_REJECTIONS]],
    }


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def events_router(database: Database, settings: Settings) -> APIRouter:
    """The events route over one database, with its own bound on concurrent bodies."""
    router = APIRouter()
    slots = asyncio.Semaphore(settings.ingest_concurrency)
    tolerance = timedelta(seconds=settings.future_tolerance_seconds)

    async def ingest(request: Request) -> tuple[IngestOutcome, bool]:
        try:
            principal = await authenticate(request, settings, database)
        except HTTPException as refused:  # answered in this API's shape, {"error": ...}
            raise EventsRefused(refused.status_code, str(refused.detail), refused.headers) from None
        if not principal.may(APPEND):
            raise EventsRefused(403, "this token may not append (APPEND or ADMIN scope needed)")
        source, wait = _source(request), _wait(request)
        if slots.locked():
            busy = {"Retry-After": RETRY_AFTER_SECONDS}
            raise EventsRefused(429, "the gateway is busy ingesting; retry shortly", busy)
        async with slots:
            body = await read_body(request, settings.max_body_bytes)
            # Parsing and validating a large body is CPU work: off the event loop.
            checked = await asyncio.to_thread(
                check_body, body, source, datetime.now(UTC), tolerance, principal.sees
            )
            try:
                outcome = await store(database, source.kind, checked)
            except IngestFailed as error:
                raise EventsRefused(503, str(error), {"Retry-After": RETRY_AFTER_SECONDS}) from None
            telemetry.ingested(
                source.kind.kind, outcome.accepted, outcome.duplicates, len(outcome.rejected)
            )
            return outcome, wait

    @router.post("/v0/events")
    async def events(request: Request) -> Response:
        """Store an NDJSON body; 202 once durable, 200 with wait=true once visible.

        Rollups are maintained in the batch's own transaction, so a committed
        batch is already visible in every aggregate: both answers come after commit.
        """
        try:
            outcome, wait = await ingest(request)
        except EventsRefused as refused:
            return _json({"error": refused.reason}, refused.status, refused.headers)
        return _json(answer(outcome), 200 if wait else 202)

    return router
