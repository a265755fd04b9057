"""Who is calling: the secret a request presents, and the principal it stands for.

Every surface (GraphQL over HTTP and websockets, the REST pipes, the NDJSON
events path, the console's API calls) authenticates through ``authenticate``.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import HTTPException, Request, WebSocket

from db.engine import Database
from gateway.settings import Settings
from resolvers.access import FULL_ACCESS, Principal


def bearer_token(headers: Any) -> str | None:
    """The secret of an `Authorization: Bearer <secret>` header, if any."""
    value = headers.get("authorization", "")
    scheme, _, secret = value.partition(" ")
    return secret.strip() if scheme.lower() == "bearer" and secret.strip() else None


def presented_secret(request: Request | WebSocket) -> str | None:
    """The Bearer header's secret, else a `?token=` parameter (as Tinybird accepts)."""
    return bearer_token(request.headers) or request.query_params.get("token") or None


def unauthenticated(message: str) -> HTTPException:
    """A 401 that tells the caller where the secret goes."""
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(
    request: Request | WebSocket, settings: Settings, database: Database
) -> Principal:
    """The caller's principal; a 401 when a secret is required and not valid."""
    expected = settings.admin_token
    if expected is None:
        return FULL_ACCESS
    given = presented_secret(request)
    if given is None or not hmac.compare_digest(given, expected.get_secret_value()):
        raise unauthenticated("a valid 'Authorization: Bearer <token>' header is required")
    return FULL_ACCESS
