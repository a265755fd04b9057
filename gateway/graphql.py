"""The GraphQL endpoint: websocket authentication in connection_init, and
persisted queries resolved before a document is executed.

A plain ASGI app (Strawberry's ``strawberry.asgi.GraphQL``) rather than
Strawberry's FastAPI router: FastAPI's per-request dependency solving and
endpoint wrapping cost about a third of a trivial query's time, and GraphQL
needs none of it (the context getter is all it asked FastAPI for).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import HTTPException, Request, Response, WebSocket
from graphql import GraphQLError
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from db.engine import Database
from gateway.auth import bearer_token, principal_for_secret
from gateway.offload import Offload
from resolvers.context import GatewayContext
from resolvers.errors import masked
from resolvers.persisted import document_for

ContextGetter = Callable[[Request | WebSocket], Awaitable[dict[str, Any]]]


class GatewayView(GraphQL[dict[str, Any], None]):
    """Strawberry's ASGI GraphQL app with the gateway's context, connection_init and
    persisted-query rules; requests with a large body execute on the offload worker."""

    def __init__(
        self,
        *args: Any,
        context_getter: ContextGetter,
        offload: Offload,
        offload_body_bytes: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.context_getter = context_getter
        self.offload = offload
        self.offload_body_bytes = offload_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A websocket gets its context (a `?token=` checked) before its handshake
        is accepted, so a bad token is refused without opening the socket."""
        if scope["type"] != "websocket":
            await super().__call__(scope, receive, send)
            return
        websocket = WebSocket(scope, receive=receive, send=send)
        await self.run(websocket, context=await self.get_context(websocket, websocket))

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> dict[str, Any]:
        """The gateway's context (authenticated by context_getter) beside the request."""
        return {"request": request, "response": response, **await self.context_getter(request)}

    async def on_ws_connect(self, context: dict[str, Any]) -> UnsetType | dict[str, object] | None:
        """Authenticate a websocket by `{"Authorization": "Bearer <secret>"}` in its
        connection_init payload (a `?token=` on the URL also works); refuse it otherwise."""
        gateway: GatewayContext = context["gateway"]
        params = context.get("connection_params")
        headers = {str(k).lower(): v for k, v in params.items()} if isinstance(params, dict) else {}
        secret = bearer_token(headers)
        if secret is None:
            if gateway.principal.scopes:
                return None
            raise ConnectionRejectionError({"message": "a valid token is required"})
        try:
            gateway.principal = await principal_for_secret(secret, gateway.settings, gateway.db)
        except HTTPException as refused:
            raise ConnectionRejectionError({"message": str(refused.detail)}) from None
        return None

    def encode_json(self, data: object) -> bytes:
        """orjson: several times faster than json on large lists (NaN never occurs:
        non-finite values are refused on input)."""
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        """orjson: several times faster than json on the megabytes of an ingest batch."""
        return orjson.loads(data)

    async def parse_http_body(self, request: Any) -> Any:
        """Decode the body; a large one on the offload worker (json.loads of megabytes
        would hold this loop)."""
        body = await request.get_body()  # read once; the adapter caches it
        if len(body) < self.offload_body_bytes:
            return await super().parse_http_body(request)
        parse = super().parse_http_body
        return await self.offload.run(lambda _: parse(request))

    async def execute_single(  # noqa: PLR0917
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Any,
        context: dict[str, Any],
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Swap a persisted query's hash for its document, then execute as usual."""
        gateway: GatewayContext = context["gateway"]
        try:
            query = await document_for(gateway, request_data.query, request_data.extensions)
        except GraphQLError as refused:
            return ExecutionResult(data=None, errors=[refused])
        except (SQLAlchemyError, OSError) as error:
            return ExecutionResult(data=None, errors=[masked(error, gateway.request_id)])
        request_data = dataclasses.replace(request_data, query=query)
        if len(await request.body()) < self.offload_body_bytes:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )

        async def on_worker(database: Database) -> ExecutionResult:
            moved = GatewayContext(
                database,
                gateway.settings,
                principal=gateway.principal,
                request_id=gateway.request_id,
                token_cache=gateway.token_cache,
            )
            return await super(GatewayView, self).execute_single(
                request, request_adapter, sub_response, {"gateway": moved}, root_value, request_data
            )

        return await self.offload.run(on_worker)
