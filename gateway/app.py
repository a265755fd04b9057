"""The ASGI application: GraphQL (with GraphiQL), console, pipes, metrics, health."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from db.engine import Database
from gateway import logs
from gateway.alerting import Alerting, WebhookPolicy
from gateway.auth import authenticate
from gateway.graphiql import STATIC, GatewayGraphQLRouter
from gateway.live import Broker
from gateway.maintenance import maintain_forever
from gateway.metrics_endpoint import metrics_router
from gateway.rest import rest_router
from gateway.settings import Settings
from resolvers.context import GatewayContext
from schema.root import schema


def _is_ide_page(request: Request) -> bool:
    """A browser asking for GraphiQL itself (the page carries no data)."""
    return (
        request.method == "GET"
        and "query" not in request.query_params
        and "text/html" in request.headers.get("accept", "")
    )


def webhook_policy(settings: Settings) -> WebhookPolicy:
    """How alert webhooks are delivered, from the settings."""
    return WebhookPolicy(
        timeout=settings.webhook_timeout_seconds,
        attempts=settings.webhook_attempts,
        backoff=settings.webhook_backoff_seconds,
    )


def create_app(database: Database, settings: Settings, *, owns_database: bool = True) -> FastAPI:
    """The gateway app over an open database; the database is disposed at shutdown
    when the app owns it."""
    broker = Broker(database.url)
    alerting = Alerting(database, settings.alert_interval, webhook_policy(settings))

    async def context(request: Request = None, websocket: WebSocket = None) -> dict[str, Any]:  # type: ignore[assignment]
        caller = request or websocket
        if isinstance(caller, Request) and _is_ide_page(caller):
            return {"gateway": GatewayContext(database, settings)}
        principal = await authenticate(caller, settings, database)
        gateway = GatewayContext(database, settings, principal=principal)
        gateway.live, gateway.alerting = broker, alerting
        return {"gateway": gateway}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        maintenance = asyncio.create_task(maintain_forever(database, settings))
        await broker.start()
        alerting.start()
        yield
        await alerting.stop()
        await broker.stop()
        maintenance.cancel()
        if owns_database:
            await database.dispose()

    app = FastAPI(title="Analytics gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.live, app.state.alerting = broker, alerting
    ide: Literal["graphiql"] | None = "graphiql" if settings.graphiql else None
    app.include_router(
        GatewayGraphQLRouter(schema, context_getter=context, graphql_ide=ide), prefix="/graphql"
    )
    app.include_router(rest_router(database, settings))
    app.include_router(metrics_router(database, settings))
    app.middleware("http")(logs.request_ids)
    # check_dir off: the vendor files may be absent until `make install`; the page says so.
    app.mount("/assets", StaticFiles(directory=STATIC, check_dir=False), name="assets")

    @app.get("/console", include_in_schema=False)
    async def console() -> FileResponse:
        """The console page (it reads the public GraphQL API with the user's token)."""
        return FileResponse(STATIC / "console" / "index.html")

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 when the database answers, 503 otherwise."""
        if await database.ping():
            return JSONResponse({"status": "ok", "database": "up"})
        return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)

    return app
