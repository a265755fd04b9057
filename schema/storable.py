"""Argument values the database would refuse, refused first as BAD_USER_INPUT:
a NUL character in any string, a number too large or too small to compute with.

Ingest rows are exempt: each row is checked on its own, so one bad row is
rejected while the rest of its batch is stored (resolvers/ingest.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)
from strawberry.extensions import SchemaExtension

from db.ingest.fields import unstorable
from resolvers.errors import bad_input

INGEST_FIELDS = frozenset(
    {
        "ingestProductEvents",
        "ingestApiRequests",
        "ingestPredictions",
        "recordActuals",
        "recordMetrics",
    }
)


class _Arguments:
    def __init__(
        self, fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any]
    ) -> None:
        self.fragments = fragments
        self.variables = variables

    def selection(self, node: SelectionSetNode | None, root: bool, seen: frozenset[str]) -> None:
        for selection in node.selections if node else ():
            if isinstance(selection, FieldNode):
                if root and selection.name.value in INGEST_FIELDS:
                    continue
                for argument in selection.arguments or ():
                    reason = unstorable(self.value(argument.value), bounded=True)
                    if reason is not None:
                        name = argument.name.value
                        raise bad_input(f"{name} {reason}", name)
                self.selection(selection.selection_set, False, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in self.fragments and name not in seen:
                    self.selection(self.fragments[name].selection_set, root, seen | {name})
            elif isinstance(selection, InlineFragmentNode):
                self.selection(selection.selection_set, root, seen)

    def value(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        if isinstance(node, StringValueNode):
            return node.value
        if isinstance(node, FloatValueNode):
            return float(node.value)
        if isinstance(node, ListValueNode):
            return [self.value(v) for v in node.values]
        if isinstance(node, ObjectValueNode):
            return {f.name.value: self.value(f.value) for f in node.fields}
        return None


class StorableArguments(SchemaExtension):
    """Refuses, before execution, argument values the database cannot take."""

    def on_execute(self) -> Iterator[None]:
        """Check every argument of the operation about to run."""
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            checker = _Arguments(fragments, context.variables or {})
            for definition in document.definitions:
                if isinstance(definition, OperationDefinitionNode) and (
                    context.operation_name is None
                    or (definition.name and definition.name.value == context.operation_name)
                ):
                    checker.selection(definition.selection_set, True, frozenset())
        yield
