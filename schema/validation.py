"""Give documents that fail GraphQL validation an extensions.code, like every other error."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


class ValidationErrorCodes(SchemaExtension):
    """Tags validation errors (unknown field, bad enum value, wrong variable type)
    with ``extensions.code = GRAPHQL_VALIDATION_FAILED`` so clients can branch on it."""

    def on_validate(self) -> Iterator[None]:
        """After validation, add the code to each error that has none."""
        yield
        for error in self.execution_context.pre_execution_errors or []:
            if not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": VALIDATION_FAILED}
