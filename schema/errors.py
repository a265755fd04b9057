"""What a client sees of an error: always an extensions.code, never internals.

Deliberate errors (GatewayError and GraphQL's own validation errors) pass
with a code; variable coercion errors become BAD_USER_INPUT and syntax errors
GRAPHQL_PARSE_FAILED; a database that cannot answer becomes
SERVICE_UNAVAILABLE with ``retryable: true``; anything else is masked as
INTERNAL_SERVER_ERROR with the request id the server logged it under.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from resolvers.errors import INTERNAL, is_unavailable, is_unexpected, unavailable

log = logging.getLogger("gateway.errors")
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def _request_id(execution_context: ExecutionContext) -> str:
    context = execution_context.context
    gateway = context.get("gateway") if isinstance(context, dict) else None
    return str(getattr(gateway, "request_id", "-"))


def _settings(execution_context: ExecutionContext) -> Any:
    context = execution_context.context
    gateway = context.get("gateway") if isinstance(context, dict) else None
    return getattr(gateway, "settings", None)


def _code_of(error: GraphQLError) -> str | None:
    code = (error.extensions or {}).get("code")
    return str(code) if code else None


def client_error(error: GraphQLError, request_id: str, suggestions: bool) -> GraphQLError:
    """The error as the client may see it."""
    if is_unavailable(error.original_error):
        safe: GraphQLError = unavailable()
        safe.path, safe.nodes, safe.positions = error.path, error.nodes, error.positions
        return safe
    if is_unexpected(error):
        return GraphQLError(
            "Unexpected error.",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": INTERNAL, "requestId": request_id},
        )
    message = error.message if suggestions else _SUGGESTION.sub("", error.message)
    code = _code_of(error) or _implicit_code(error)
    if message == error.message and code == _code_of(error):
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), "code": code},
    )


def _implicit_code(error: GraphQLError) -> str:
    if isinstance(error, GraphQLSyntaxError) or error.message.startswith("Syntax Error"):
        return PARSE_FAILED
    if error.message.startswith(("Variable '$", "Argument '")):
        return BAD_USER_INPUT
    return INTERNAL


class SafeErrors(SchemaExtension):
    """Rewrites every error of a result into its client form (see the module doc)."""

    def on_operation(self) -> Iterator[None]:
        """After the operation: classify, mask and code its errors."""
        yield
        self._process(self.execution_context.result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each result a subscription sends goes through the same rules."""
        self._process(result)
        yield None

    def _process(self, result: Any) -> None:
        errors = getattr(result, "errors", None)
        if not errors:
            return
        settings = _settings(self.execution_context)
        suggestions = settings is None or settings.introspection
        request_id = _request_id(self.execution_context)
        result.errors = [client_error(e, request_id, suggestions) for e in errors]


class GatewaySchema(strawberry.Schema):
    """The schema, logging client errors in one line and unexpected ones in full."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log each error once: a traceback only where the server is at fault. Errors
        without a code get theirs here too: a syntax error raised by the parser cache
        reaches the client without passing through SafeErrors."""
        request_id = _request_id(execution_context) if execution_context else "-"
        for error in errors:
            if not is_unexpected(error) and _code_of(error) is None:
                error.extensions = {**(error.extensions or {}), "code": _implicit_code(error)}
            if is_unavailable(error.original_error):
                log.warning("request %s: database unavailable: %s", request_id, error.message)
            elif is_unexpected(error):
                log.error("request %s: unexpected error", request_id, exc_info=error.original_error)
            else:
                code = _code_of(error) or _implicit_code(error)
                log.info("request %s: %s: %s", request_id, code, error.message)
