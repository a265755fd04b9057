"""GET /metrics: the process's counters in Prometheus text format, for a READ token."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from db.engine import Database
from gateway import telemetry
from gateway.pipes import RestError
from gateway.rest import reader_context
from gateway.settings import Settings


def metrics_router(database: Database, settings: Settings) -> APIRouter:
    """The /metrics route; the database's pool is reported in the pool gauges."""
    router = APIRouter()
    telemetry.watch_pool(database)

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        """Prometheus exposition; scrape with `authorization: {credentials: <token>}`."""
        try:
            await reader_context(request, settings, database)
        except RestError as error:
            return JSONResponse({"error": error.message}, status_code=error.status)
        return Response(generate_latest(telemetry.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router
