"""Errors a client can act on, raised as GraphQL errors with an extensions code."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError


class GatewayError(GraphQLError):
    """An error whose message is safe and useful to show the caller."""

    def __init__(self, message: str, code: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": code, **extensions})


def bad_input(message: str, argument: str | None = None) -> GatewayError:
    """The caller sent a value the contract does not allow."""
    extra = {"argument": argument} if argument else {}
    return GatewayError(message, "BAD_USER_INPUT", **extra)


def is_unexpected(error: GraphQLError) -> bool:
    """Mask predicate: hide only errors that are not deliberate GraphQL errors."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)
