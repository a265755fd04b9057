"""The GraphQL router: websocket authentication in connection_init, and
persisted queries resolved before a document is executed."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import HTTPException, Request
from graphql import GraphQLError
from sqlalchemy.exc import SQLAlchemyError
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from gateway.auth import bearer_token, principal_for_secret
from resolvers.context import GatewayContext
from resolvers.errors import masked
from resolvers.persisted import document_for


class GatewayRouter(GraphQLRouter[dict[str, Any], None]):
    """GraphQLRouter with the gateway's connection_init and persisted-query rules."""

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
        return await super().execute_single(
            request,
            request_adapter,
            sub_response,
            context,
            root_value,
            dataclasses.replace(request_data, query=query),
        )
