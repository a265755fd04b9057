"""The `/v0` REST surface: Tinybird pipes (JSON or CSV) and dashboard widget export.

Both run GraphQL documents through the served schema with the caller's
principal, so they see exactly what the caller's token may see.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from db.engine import Database
from gateway.auth import authenticate
from gateway.export import csv_response, result_data, tabulate
from gateway.pipes import PIPES, RestError, run_pipe
from gateway.settings import Settings
from resolvers.access import READ
from resolvers.context import GatewayContext
from schema.root import schema

WIDGET_DATA = """
query WidgetExport($id: ID!) {
  dashboard(id: $id) { widgets { id title visualization data } }
}
"""


def _error(error: RestError) -> JSONResponse:
    return JSONResponse({"error": error.message}, status_code=error.status)


async def reader_context(
    request: Request, settings: Settings, database: Database
) -> GatewayContext:
    """The caller's context when its token holds READ; RestError (401/403) otherwise."""
    try:
        principal = await authenticate(request, settings, database)
    except HTTPException as error:
        raise RestError(str(error.detail), error.status_code) from None
    if not principal.may(READ):
        raise RestError("this token lacks the READ scope", 403)
    return GatewayContext(database, settings, principal=principal)


def rest_router(database: Database, settings: Settings) -> APIRouter:
    """Routes of /v0/pipes and /v0/dashboards over database."""
    router = APIRouter()

    @router.get("/v0/pipes/{name}.{extension}")
    async def pipe(name: str, extension: str, request: Request) -> Response:
        """A pipe's rows as Tinybird JSON (`.json`) or streamed CSV (`.csv`)."""
        started = time.perf_counter()
        found = PIPES.get(name)
        try:
            if found is None or extension not in ("json", "csv"):
                raise RestError(
                    f"pipe {name}.{extension} not found; pipes: {', '.join(PIPES)}", 404
                )
            context = await reader_context(request, settings, database)
            rows = await run_pipe(found, request.query_params, context)
        except RestError as error:
            return _error(error)
        if extension == "csv":
            return csv_response([c for c, _ in found.columns], rows, f"{name}.csv")
        return JSONResponse(
            {
                "meta": [{"name": c, "type": t} for c, t in found.columns],
                "data": rows,
                "rows": len(rows),
                "statistics": {
                    "elapsed": time.perf_counter() - started,
                    "rows_read": 0,
                    "bytes_read": 0,
                },
            }
        )

    @router.get("/v0/dashboards/{dashboard_id}/widgets/{widget_id}.csv")
    async def widget_csv(dashboard_id: str, widget_id: str, request: Request) -> Response:
        """One dashboard widget's data as streamed CSV (its first list, flattened)."""
        try:
            context = await reader_context(request, settings, database)
        except RestError as error:
            return _error(error)
        result = await schema.execute(
            WIDGET_DATA, variable_values={"id": dashboard_id}, context_value={"gateway": context}
        )
        if result.errors:
            return _error(RestError(result.errors[0].message, 400))
        dashboard = (result.data or {}).get("dashboard")
        widgets = [w for w in (dashboard or {}).get("widgets", []) if w["id"] == widget_id]
        if not widgets:
            return _error(RestError(f"no widget {widget_id} on dashboard {dashboard_id}", 404))
        widget = widgets[0]
        hints = widget["visualization"] if isinstance(widget["visualization"], dict) else {}
        columns, rows = tabulate(result_data(widget["data"]), hints.get("path"))
        return csv_response(columns, rows, f"widget-{widget_id}.csv")

    return router
