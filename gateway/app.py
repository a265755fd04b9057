"""The ASGI application: GraphQL (with GraphiQL), console, pipes, metrics, health."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import Route, WebSocketRoute

from db.engine import Database
from gateway import logs
from gateway.alerting import Alerting, WebhookPolicy
from gateway.auth import authenticate, presented_secret
from gateway.events import events_router
from gateway.graphiql import STATIC, GatewayGraphQLView
from gateway.guard import RequestGuard, allowed_hosts
from gateway.limits import RateLimiter, TokenUsage
from gateway.live import Broker
from gateway.maintenance import compact_forever, maintain_forever
from gateway.metrics_endpoint import metrics_router
from gateway.offload import Offload
from gateway.rest import rest_router
from gateway.settings import Settings
from resolvers.access import NO_ACCESS, Principal
from resolvers.context import GatewayContext
from resolvers.token_cache import TokenCache
from schema.root import schema


def _is_ide_page(request: Request) -> bool:
    """A browser asking for GraphiQL itself (the page carries no data)."""
    accept = request.headers.get("accept", "")
    return (
        request.method == "GET"
        and "query" not in request.query_params
        and ("text/html" in accept or "*/*" in accept)
    )


def webhook_policy(settings: Settings) -> WebhookPolicy:
    """How alert webhooks are delivered, from the settings."""
    return WebhookPolicy(
        timeout=settings.webhook_timeout_seconds,
        attempts=settings.webhook_attempts,
        backoff=settings.webhook_backoff_seconds,
    )


# The GraphQL code of each refusal authenticate() answers with.
REFUSAL_CODES = {
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    429: "RATE_LIMITED",
    503: "SERVICE_UNAVAILABLE",
}


class GraphQLRefusal(Exception):
    """A refused GraphQL request: answered with its HTTP status and a GraphQL error body."""

    def __init__(self, refused: HTTPException) -> None:
        super().__init__(refused.detail)
        self.refused = refused


def _refusal_response(_: Request, error: Exception) -> JSONResponse:
    refused = error.refused if isinstance(error, GraphQLRefusal) else HTTPException(500)
    extensions: dict[str, Any] = {"code": REFUSAL_CODES.get(refused.status_code, "FORBIDDEN")}
    if refused.status_code in (429, 503):
        extensions["retryable"] = True
    body = {"errors": [{"message": str(refused.detail), "extensions": extensions}]}
    return JSONResponse(body, status_code=refused.status_code, headers=refused.headers)


def create_app(database: Database, settings: Settings, *, owns_database: bool = True) -> FastAPI:
    """The gateway app over an open database; the database is disposed at shutdown
    when the app owns it."""
    broker = Broker(database.url)
    alerting = Alerting(database, settings.alert_interval, webhook_policy(settings))
    limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    usage = TokenUsage()
    token_cache = TokenCache(settings.token_cache_seconds)
    offload = Offload(database)

    def served(principal: Principal) -> GatewayContext:
        gateway = GatewayContext(database, settings, principal=principal)
        gateway.live, gateway.alerting = broker, alerting
        gateway.token_cache = token_cache
        return gateway

    async def context(connection: Request | WebSocket) -> dict[str, Any]:
        if isinstance(connection, Request):
            request = connection
            if _is_ide_page(request):
                return {"gateway": served(NO_ACCESS)}
            try:
                principal = await authenticate(request, settings, database)
            except HTTPException as refused:
                raise GraphQLRefusal(refused) from None
            return {"gateway": served(principal)}
        # A websocket authenticates in connection_init (GatewayView.on_ws_connect),
        # or with ?token= on its URL; each operation then charges the rate limit.
        principal = NO_ACCESS
        if presented_secret(connection) is not None:
            principal = await authenticate(connection, settings, database)
        gateway = served(principal)
        gateway.charge = lambda: limiter.charge(gateway.principal.token_id or "admin")
        return {"gateway": gateway}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        maintenance = asyncio.create_task(maintain_forever(database, settings))
        compaction = asyncio.create_task(compact_forever(database, settings))
        await broker.start()
        alerting.start()
        yield
        await alerting.stop()
        await broker.stop()
        # Ended before the database is closed: a pass cancelled in a statement has the
        # server cancel it, instead of leaving it running there after shutdown.
        for task in (maintenance, compaction):
            task.cancel()
        await asyncio.gather(maintenance, compaction, return_exceptions=True)
        await offload.close()
        await usage.flush(database)
        if owns_database:
            await database.dispose()

    app = FastAPI(title="Analytics gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_exception_handler(GraphQLRefusal, _refusal_response)
    app.state.live, app.state.alerting = broker, alerting
    app.state.rate_limiter = limiter
    app.state.token_usage = usage
    app.state.token_cache = token_cache
    graphql = GatewayGraphQLView(
        schema,
        context_getter=context,
        graphql_ide="graphiql" if settings.graphiql else None,
        allowed_origins=settings.allowed_origins,
        offload=offload,
        offload_body_bytes=settings.offload_body_bytes,
    )
    app.router.routes += [
        Route("/graphql", graphql, methods=["GET", "POST"], include_in_schema=False),
        WebSocketRoute("/graphql", graphql),
    ]
    app.include_router(rest_router(database, settings))
    app.include_router(metrics_router(database, settings))
    app.add_middleware(logs.RequestIds)
    # check_dir off: the vendor files may be absent until `make install`; the page says so.
    app.mount("/assets", StaticFiles(directory=STATIC, check_dir=False), name="assets")

    @app.get("/console", include_in_schema=False)
    async def console() -> FileResponse:
        """The console page (it reads the public GraphQL API with the user's token)."""
        return FileResponse(STATIC / "console" / "index.html")

    app.include_router(events_router(database, settings))

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 when the database answers a query on a fact table within 1 s, 503 otherwise."""
        if await database.ping(timeout=1.0):
            return JSONResponse({"status": "ok", "database": "up"})
        return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)

    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(
        RequestGuard,
        hosts=allowed_hosts(settings.allowed_hosts, settings.host),
        max_body_bytes=settings.max_body_bytes,
    )
    return app
