"""The contract's access section: scopes, API tokens, and their root fields."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.types import Info
from strawberry.types.graphql import OperationType

from resolvers import tokens as resolve
from resolvers.access import READ
from resolvers.errors import GatewayError

UNAUTHENTICATED_MESSAGE = (
    "a valid token is required (over websockets: "
    '{"Authorization": "Bearer <token>"} as the connection_init payload)'
)


@strawberry.enum
class Scope(Enum):
    ADMIN = strawberry.enum_value(
        "ADMIN", description="everything, including tokens, alerts and dashboards of others"
    )
    READ = strawberry.enum_value("READ", description="queries and subscriptions")
    APPEND = strawberry.enum_value("APPEND", description="ingest mutations only")


@strawberry.input
class ApiTokenInput:
    name: str
    scopes: list[Scope]
    resource_ids: list[str] | None = strawberry.field(
        default=None,
        description=(
            "when set, reads and writes are confined to these products, endpoints and models"
        ),
    )
    expires_at: datetime | None = None


@strawberry.type
class ApiToken:
    id: strawberry.ID
    name: str
    scopes: list[Scope]
    resource_ids: list[str] | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


@strawberry.type(description="The secret is shown once, here, and stored only as a hash.")
class CreatedApiToken:
    secret: str
    token: ApiToken


def api_token(row: Any) -> ApiToken:
    """The GraphQL shape of a stored token (never its hash)."""
    return ApiToken(
        id=strawberry.ID(row["id"]),
        name=row["name"],
        scopes=[Scope(s) for s in row["scopes"]],
        resource_ids=row["resource_ids"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
    )


@strawberry.type
class AccessQuery:
    @strawberry.field(description="every token not revoked (ADMIN only)")
    async def api_tokens(self, info: Info[Any, Any]) -> list[ApiToken]:
        return [api_token(row) for row in await resolve.api_tokens(info)]


@strawberry.type
class AccessMutation:
    @strawberry.mutation(description="ADMIN only; the secret is in the answer and nowhere else")
    async def create_api_token(self, info: Info[Any, Any], input: ApiTokenInput) -> CreatedApiToken:
        secret, row = await resolve.create_api_token(
            info,
            input.name,
            [s.name for s in input.scopes],
            input.resource_ids,
            input.expires_at,
        )
        return CreatedApiToken(secret=secret, token=api_token(row))

    @strawberry.mutation(description="ADMIN only; false when no live token has this id")
    async def revoke_api_token(self, info: Info[Any, Any], id: strawberry.ID) -> bool:
        return await resolve.revoke_api_token(info, str(id))


class OperationScope(SchemaExtension):
    """Queries and subscriptions need READ; a mutation needs a valid token and asks
    for its own scope in its resolver. Websocket operations also charge the rate
    limit here (HTTP requests were charged before parsing)."""

    def on_execute(self) -> Iterator[None]:
        """Refuse the operation before any resolver runs."""
        context = self.execution_context
        gateway = context.context["gateway"]
        if gateway.charge is not None and (wait := gateway.charge()) is not None:
            raise GatewayError(
                f"rate limit exceeded; retry in {wait:.2f} s",
                "RATE_LIMITED",
                retryable=True,
                retryAfter=round(wait, 2),
            )
        if not gateway.principal.scopes:
            raise GatewayError(UNAUTHENTICATED_MESSAGE, "UNAUTHENTICATED")
        if context.operation_type is not OperationType.MUTATION and not gateway.principal.may(READ):
            raise GatewayError("queries and subscriptions need the READ scope", "FORBIDDEN")
        yield
