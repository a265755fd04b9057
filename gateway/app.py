"""The ASGI application: GraphQL (with GraphiQL), health, and access control."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse
from strawberry.fastapi import GraphQLRouter

from db.engine import Database
from gateway.auth import authenticate
from gateway.events import events_router
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


class _Router(GraphQLRouter[Any, Any]):
    """Strawberry's router answering with orjson (several times faster than json on
    large lists; NaN never occurs, as non-finite values are refused on input)."""

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def create_app(database: Database, settings: Settings, *, owns_database: bool = True) -> FastAPI:
    """The gateway app over an open database; the database is disposed at shutdown
    when the app owns it."""

    async def context(request: Request = None, websocket: WebSocket = None) -> dict[str, Any]:  # type: ignore[assignment]
        caller = request or websocket
        if isinstance(caller, Request) and _is_ide_page(caller):
            return {"gateway": GatewayContext(database, settings)}
        principal = await authenticate(caller, settings, database)
        return {"gateway": GatewayContext(database, settings, principal=principal)}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_database:
            await database.dispose()

    app = FastAPI(title="Analytics gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.include_router(_Router(schema, context_getter=context), prefix="/graphql")
    app.include_router(events_router(database, settings))

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 when the database answers, 503 otherwise."""
        if await database.ping():
            return JSONResponse({"status": "ok", "database": "up"})
        return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)

    return app
