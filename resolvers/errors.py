"""Errors a client can act on, raised as GraphQL errors with an extensions code,
and the classification every error goes through before a client sees it."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from graphql import GraphQLError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger("gateway.errors")
INTERNAL = "INTERNAL_SERVER_ERROR"
UNAVAILABLE = "SERVICE_UNAVAILABLE"
UNAVAILABLE_MESSAGE = "the database is unavailable or too slow right now; retry shortly"


class GatewayError(GraphQLError):
    """An error whose message is safe and useful to show the caller."""

    def __init__(self, message: str, code: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": code, **extensions})


def bad_input(message: str, argument: str | None = None) -> GatewayError:
    """The caller sent a value the contract does not allow."""
    extra = {"argument": argument} if argument else {}
    return GatewayError(message, "BAD_USER_INPUT", **extra)


def unavailable() -> GatewayError:
    """The database is down, restarting, locked or slow: the same request can succeed later."""
    return GatewayError(UNAVAILABLE_MESSAGE, UNAVAILABLE, retryable=True)


def masked(error: BaseException, request_id: str) -> GraphQLError:
    """The client's error for an exception outside GraphQL execution: unavailable
    when the database could not answer, else masked (and logged with request_id)."""
    if is_unavailable(error):
        log.warning("request %s: database unavailable: %s", request_id, type(error).__name__)
        return unavailable()
    log.error("request %s: unexpected error", request_id, exc_info=error)
    return GraphQLError("Unexpected error.", extensions={"code": INTERNAL, "requestId": request_id})


def is_unavailable(error: BaseException | None) -> bool:
    """Whether an exception (or its cause) means the database could not answer in time."""
    while error is not None:
        # psycopg's own errors reach here unwrapped from the COPY writer.
        if isinstance(error, OperationalError | psycopg.OperationalError | PoolTimeout | OSError):
            return True
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        error = error.__cause__
    return False


def is_unexpected(error: GraphQLError) -> bool:
    """Mask predicate: hide only errors that are not deliberate GraphQL errors."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)
