"""Limits every document must stay within, checked before anything executes:
tokens (while parsing), depth, aliases and a computed cost (after validation).

The limits come from the request's settings, so one schema serves processes
configured differently. Cost: every selected object field costs 1 (scalars come
with their object), a root field may weigh more (``stats`` counts every table),
and a field that returns many items multiplies the cost of its selection by how
many it may return (its first/limit, at most the largest page).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

from resolvers.errors import GatewayError

TOO_COMPLEX = "QUERY_TOO_COMPLEX"
# Root fields whose one call reads whole tables.
FIELD_WEIGHTS: Mapping[str, int] = {"stats": 100, "quarantine": 5}
# Arguments that bound how many items a field returns.
SIZE_ARGUMENTS = ("first", "limit")
# Lists without a size argument, by how many items they typically return.
LIST_SIZES: Mapping[str, int] = {"timeseries": 24, "latencyHistogram": 20, "engagement": 10}
DEFAULT_LIST_SIZE = 20


@dataclass
class DocumentShape:
    """What the limits look at in one operation."""

    depth: int
    aliases: int
    cost: int
    introspects: bool = False


class _Measure:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        largest: int,
    ) -> None:
        self.schema = schema
        self.largest = largest
        self.fragments = fragments
        self.variables = variables
        self.aliases = 0
        self.introspects = False

    def selection(
        self, node: SelectionSetNode | None, parent: Any, seen: frozenset[str]
    ) -> tuple[int, int]:
        """(depth, cost) of a selection set on parent; a fragment cycle counts once."""
        depth = cost = 0
        for selection in node.selections if node else ():
            if isinstance(selection, FieldNode):
                inner = self.field(selection, parent, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue
                on = self.schema.get_type(fragment.type_condition.name.value)
                inner = self.selection(fragment.selection_set, on, seen | {name})
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                inner = self.selection(selection.selection_set, on, seen)
            else:
                continue
            depth, cost = max(depth, inner[0]), cost + inner[1]
        return depth, cost

    def field(self, node: FieldNode, parent: Any, seen: frozenset[str]) -> tuple[int, int]:
        if node.alias is not None:
            self.aliases += 1
        name = node.name.value
        if name.startswith("__"):
            self.introspects = self.introspects or name in ("__schema", "__type")
            return 1, 0
        definition = parent.fields.get(name) if hasattr(parent, "fields") else None
        child = get_named_type(definition.type) if definition else None
        if node.selection_set is None:  # a scalar: computed with its object
            return 1, FIELD_WEIGHTS.get(name, 0)
        depth, cost = self.selection(node.selection_set, child, seen)
        return depth + 1, FIELD_WEIGHTS.get(name, 1) + self.size(node, definition) * cost

    def size(self, node: FieldNode, definition: GraphQLField | None) -> int:
        """How many items the field may return: its first/limit argument (given or
        default, at most the largest page a list serves), else a typical size for
        unbounded lists, else 1."""
        return min(self.largest, self._asked(node, definition))

    def _asked(self, node: FieldNode, definition: GraphQLField | None) -> int:
        given = {a.name.value: a.value for a in node.arguments or ()}
        for name in SIZE_ARGUMENTS:
            value = given.get(name)
            if isinstance(value, IntValueNode):
                return max(1, int(value.value))
            if isinstance(value, VariableNode):
                bound = self.variables.get(value.name.value)
                return max(1, bound) if isinstance(bound, int) else DEFAULT_LIST_SIZE
            declared = definition.args.get(name) if definition else None
            if declared is not None:
                default = declared.default_value
                return max(1, default) if isinstance(default, int) else DEFAULT_LIST_SIZE
        return LIST_SIZES.get(node.name.value, 1)


def measure(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any] | None,
    largest: int = 1_000,
) -> DocumentShape:
    """Depth, alias count and cost of one operation, fragments included."""
    measuring = _Measure(schema, fragments, variables or {}, largest)
    root = schema.get_root_type(operation.operation)
    depth, cost = measuring.selection(operation.selection_set, root, frozenset())
    return DocumentShape(depth, measuring.aliases, cost, measuring.introspects)


def _operation(document: Any, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for operation in operations:
        if name is None or (operation.name and operation.name.value == name):
            return operation
    return None


class QueryLimits(SchemaExtension):
    """Refuses documents over the configured token, depth, alias and cost limits."""

    def on_operation(self) -> Iterator[None]:
        """Bound the parser: it stops at the token limit instead of reading everything."""
        settings = self.execution_context.context["gateway"].settings
        self.execution_context.parse_options["max_tokens"] = settings.max_tokens
        yield

    def on_execute(self) -> Iterator[None]:
        """Measure the operation about to run; refuse it before any resolver starts."""
        context = self.execution_context
        document = context.graphql_document
        operation = _operation(document, context.operation_name) if document else None
        if operation is not None:
            fragments = {
                d.name.value: d
                for d in document.definitions  # type: ignore[union-attr]
                if isinstance(d, FragmentDefinitionNode)
            }
            settings = context.context["gateway"].settings
            shape = measure(
                context.schema._schema,
                operation,
                fragments,
                context.variables,
                settings.max_page_size,
            )
            check(shape, settings)
        yield


def check(shape: DocumentShape, settings: Any) -> None:
    """A QUERY_TOO_COMPLEX error naming the measure and its limit, when one is over;
    introspection refused when it is switched off."""
    if shape.introspects and not settings.introspection:
        raise GatewayError("introspection is disabled on this gateway", "GRAPHQL_VALIDATION_FAILED")
    for what, value, limit in (
        ("depth", shape.depth, settings.max_depth),
        ("aliases", shape.aliases, settings.max_aliases),
        ("cost", shape.cost, settings.max_cost),
    ):
        if value > limit:
            raise GatewayError(
                f"query {what} is {value}, over the limit of {limit}",
                TOO_COMPLEX,
                limit=limit,
                **{what: value},
            )
