"""The GraphQL endpoint: the gateway's own offline GraphiQL page, and request metrics.

Strawberry's built-in GraphiQL loads React and GraphiQL from a CDN; this
view answers a browser's GET /graphql with gateway/static/graphiql/index.html
instead, whose scripts come from /assets (see gateway/assets.py).
"""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from gateway import telemetry
from gateway.assets import VENDOR, missing
from gateway.graphql import GatewayView

STATIC = VENDOR.parent
PAGE = STATIC / "graphiql" / "index.html"
_NAMED = re.compile(r"^\s*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")
_NOT_INSTALLED = (
    "<!doctype html><title>GraphiQL not installed</title><h1>GraphiQL is not installed</h1>"
    "<p>Its browser files are missing from {vendor}: run <code>make install</code> "
    "(or <code>python -m gateway.assets</code>) once, with npm available.</p>"
)


def operation_name(data: GraphQLRequestData) -> str | None:
    """The operation's name as sent, else the first operation's name in the document."""
    if data.operation_name:
        return data.operation_name
    found = _NAMED.match(data.query or "")
    return found.group(1) if found else None


def graphiql_page() -> str:
    """The GraphiQL page, or an explanation when its browser files are not installed."""
    if missing():
        return _NOT_INSTALLED.format(vendor=VENDOR)
    return PAGE.read_text(encoding="utf-8")


class GatewayGraphQLView(GatewayView):
    """The gateway's GraphQL view (gateway.graphql) with the offline GraphiQL page and
    per-operation metrics."""

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        """The offline GraphiQL page (only reached when the IDE is enabled)."""
        return HTMLResponse(graphiql_page())

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Any,
        context: Any,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Execute one operation, counting it by name and outcome."""
        started = time.perf_counter()
        ok = False
        try:
            result = await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
            ok = not result.errors
            return result
        finally:
            telemetry.graphql_request(
                operation_name(request_data), ok, time.perf_counter() - started
            )
