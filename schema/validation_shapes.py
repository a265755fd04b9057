"""Validation once per document shape, not once per document text.

A dashboard or a script that writes its range into the document as literals
(`overview(range: {from: "2026-11-01T10:11:12Z", ...})`) sends a new text on
every call, so a cache keyed by the text never hits, and graphql-core's 34
rules took 1.1 ms of every such request on an idle machine (3 ms under load,
a fifth of a 30-day overview's time over HTTP).

What a document's validation decides, besides whether each literal fits its
type, depends on its shape alone: the operations, selections, fragments,
directives, arguments and variables, with booleans, enum values and nulls
as they are (a rule may look at `if: false`, a null for a non-null input or
a oneOf field), and strings and numbers only through which of them are equal
(overlapping fields must have equal arguments; @defer labels must be unique).
So a document is reduced to that shape, each string or number replaced by the
position of its first equal in the document, and once a shape passes every
rule, a later document of that shape is checked against the literal rule
alone (ValuesOfCorrectTypeRule, about a tenth of the cost). A shape that
fails any rule is never cached: its documents are validated in full, so
their errors and locations are exactly graphql-core's.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Any

from graphql import (
    FloatValueNode,
    IntValueNode,
    Node,
    StringValueNode,
    ValuesOfCorrectTypeRule,
    validate,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

MAX_SHAPES = 1_024  # shapes that passed every rule, least recently used dropped first
_passed: OrderedDict[Hashable, None] = OrderedDict()


def shape(document: Node) -> Hashable:
    """The document without its locations, strings and numbers: each literal string or
    number stands as its kind and the index of the first literal equal to it."""
    literals: dict[tuple[Any, ...], int] = {}

    def reduced(value: Any) -> Hashable:
        if isinstance(value, StringValueNode | IntValueNode | FloatValueNode):
            token = (value.kind, getattr(value, "block", None), value.value)
            return value.kind, literals.setdefault(token, len(literals))
        if isinstance(value, Node):
            return value.kind, *(reduced(getattr(value, k)) for k in value.keys if k != "loc")
        if isinstance(value, tuple | list):
            return tuple(reduced(item) for item in value)
        found: Hashable = value  # a name's text, a boolean, None
        return found

    return reduced(document)


class ShapeValidationCache(SchemaExtension):
    """Validates a document in full once per shape, then only its literals."""

    def on_validate(self) -> Iterator[None]:
        """Set the validation errors before strawberry would validate itself."""
        context = self.execution_context
        document = context.graphql_document
        schema = context.schema._schema
        if document is not None and context.validation_rules:
            key = (id(schema), tuple(context.validation_rules), shape(document))
            if key in _passed:
                _passed.move_to_end(key)
                context.pre_execution_errors = validate(schema, document, [ValuesOfCorrectTypeRule])
            else:
                errors = validate_document(schema, document, context.validation_rules)
                if not errors:
                    _passed[key] = None
                    if len(_passed) > MAX_SHAPES:
                        _passed.popitem(last=False)
                context.pre_execution_errors = errors
        yield
