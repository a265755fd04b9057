"""List variables coerced by compiled plans instead of graphql-core's walk.

An ingest mutation's variable is a list of a thousand input objects of a
dozen fields each. graphql-core coerces it by a generic recursion
(coerce_input_value asks, for every value, whether its type is non-null, a
list, an input object or a leaf), after a first walk over the same value that
checks how deeply it nests (input_is_nested_too_deeply): together about 30 ms
of a 1,000-row ingestProductEvents, a sixth of its time over HTTP.

CompiledVariables coerces a variable whose value is a list with a plan made
once per input type: a chain of closures that does what coerce_input_value
does, in the same order, with the type questions answered when the plan is
made, and the built-in scalars' checks inline for the values they return
unchanged (a str for String, a finite float for Float, ...); any other value
goes to the scalar's own coercion. graphql-core then coerces an empty list in
its place, and the plan's value is put back. When the plan finds any value
invalid, graphql-core coerces the variable itself, so every error is the one it
always reports. Types that nest themselves are left to graphql-core, so its
depth check only ever skips values whose type bounds their depth below its
limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLLeafType,
    GraphQLSchema,
    OperationDefinitionNode,
    Undefined,
    is_input_object_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_required_input_field,
)
from graphql.execution.values import VariableValueSource
from graphql.language.parser import MAX_NESTING_DEPTH
from graphql.pyutils import is_iterable
from graphql.utilities import type_from_ast
from graphql.utilities.coerce_input_value import coerce_default_value
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.execution import unchanged_or

Coerce = Callable[[Any], Any]  # a value to its coerced value, or Undefined when invalid


class Unplanned(Exception):
    """A type the plans leave to graphql-core (one that nests itself, or one-of)."""


class CompiledVariables(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution, with list variables coerced by compiled plans."""

    @classmethod
    def build(
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        root_value: Any = None,
        context_value: Any = None,
        raw_variable_values: dict[str, Any] | None = None,
        operation_name: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """graphql-core's build, given the planned variables' values already coerced."""
        planned = planned_variables(schema, document, operation_name, raw_variable_values)
        if planned:
            stand_ins: dict[str, list[Any]] = {name: [] for name in planned}
            raw_variable_values = {**(raw_variable_values or {}), **stand_ins}
        executor = super().build(
            schema,
            document,
            root_value,
            context_value,
            raw_variable_values,
            operation_name,
            *args,
            **kwargs,
        )
        if planned and not isinstance(executor, list):
            variables = executor.variable_values
            for name, (value, coerced) in planned.items():
                signature = variables.sources[name].signature
                variables.sources[name] = VariableValueSource(signature, value)
                variables.coerced[name] = coerced
        return executor


def planned_variables(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    raw_variable_values: dict[str, Any] | None,
) -> dict[str, tuple[list[Any], Any]]:
    """The operation's variables whose values are non-empty lists that their type's plan
    coerced: each as (the value sent, the value coerced)."""
    planned: dict[str, tuple[list[Any], Any]] = {}
    operation = _operation(document, operation_name) if raw_variable_values else None
    if operation is None or raw_variable_values is None:
        return planned
    for node in operation.variable_definitions or ():
        name = node.variable.name.value
        value = raw_variable_values.get(name, Undefined)
        if isinstance(value, list) and value:
            coerced = _coerce_variable(schema, node, value)
            if coerced is not Undefined:
                planned[name] = (value, coerced)
    return planned


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation graphql-core will run (None when it will refuse the document)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    named = [o for o in operations if o.name is not None and o.name.value == name]
    return named[0] if len(named) == 1 else None


def _coerce_variable(schema: GraphQLSchema, node: Any, value: list[Any]) -> Any:
    """A list variable's value coerced by its type's plan; Undefined when it has none,
    or when the value is not valid (graphql-core will then say why)."""
    var_type = type_from_ast(schema, node.type)
    if var_type is None or not _is_list(var_type):
        return Undefined
    try:
        plan = plan_for(var_type)
    except Unplanned:
        return Undefined
    return plan(value)


def _is_list(type_: GraphQLInputType) -> bool:
    return is_list_type(type_.of_type if is_non_null_type(type_) else type_)


# Input object plans and depths by type (a schema's named types live as long as it).
_OBJECT_PLANS: dict[int, tuple[GraphQLInputObjectType, Coerce, int]] = {}


def plan_for(type_: GraphQLInputType) -> Coerce:
    """The coercion of a value of type_, as graphql-core's coerce_input_value does it;
    Unplanned for a type that nests itself, whose values graphql-core's depth check
    could refuse, or a one-of input object."""
    plan, depth = _planned(type_, ())
    if depth > MAX_NESTING_DEPTH:
        raise Unplanned
    return plan


def _planned(type_: Any, within: tuple[int, ...]) -> tuple[Coerce, int]:
    """A type's plan, and how deep its values can nest (as input_is_nested_too_deeply
    counts: one level per list and per input object) within the input objects
    being planned."""
    if is_non_null_type(type_):
        inner, depth = _planned(type_.of_type, within)
        return _non_null(inner), depth
    if is_list_type(type_):
        item, depth = _planned(type_.of_type, within)
        return _nullable(_list(item)), depth + 1
    if is_input_object_type(type_):
        if id(type_) in within or type_.is_one_of:
            raise Unplanned
        known = _OBJECT_PLANS.get(id(type_))
        if known is not None and known[0] is type_:
            _, plan, depth = known
        else:
            plan, depth = _object(type_, (*within, id(type_)))
            _OBJECT_PLANS[id(type_)] = (type_, plan, depth)
        return _nullable(plan), depth + 1
    if is_leaf_type(type_):
        return _nullable(_leaf(type_)), 0
    raise Unplanned


def _non_null(inner: Coerce) -> Coerce:
    return _on_null(inner, Undefined)


def _nullable(inner: Coerce) -> Coerce:
    return _on_null(inner, None)


def _on_null(inner: Coerce, null: Any) -> Coerce:
    """inner, and null for a null or absent value."""

    def coerce(value: Any) -> Any:
        if value is None or value is Undefined:
            return null
        return inner(value)

    return coerce


def _list(item: Coerce) -> Coerce:
    def coerce(value: Any) -> Any:
        if not is_iterable(value):  # a single value is a list of one
            single = item(value)
            return Undefined if single is Undefined else [single]
        items = []
        for each in value:
            coerced = item(each)
            if coerced is Undefined:
                return Undefined
            items.append(coerced)
        return items

    return coerce


def _object(type_: GraphQLInputObjectType, within: tuple[int, ...]) -> tuple[Coerce, int]:
    fields = []
    deepest = 0
    for name, field in type_.fields.items():
        plan, depth = _planned(field.type, within)
        deepest = max(deepest, depth)
        fields.append(
            (
                name,
                field.out_name or name,
                plan,
                is_required_input_field(field),
                coerce_default_value(field),
            )
        )
    names = frozenset(type_.fields)
    out_type = type_.out_type

    def coerce(value: Any) -> Any:
        if not isinstance(value, dict):
            return Undefined
        for name, each in value.items():
            if name not in names and each is not Undefined:
                return Undefined
        coerced: dict[str, Any] = {}
        for name, out_name, plan, required, default in fields:
            each = value.get(name, Undefined)
            if each is Undefined:
                if required:
                    return Undefined
                if default is not Undefined:
                    coerced[out_name] = default
                continue
            result = plan(each)
            if result is Undefined:
                return Undefined
            coerced[out_name] = result
        return out_type(coerced)

    return coerce, deepest


def _leaf(type_: GraphQLLeafType) -> Coerce:
    """A scalar's or enum's input coercion, Undefined for a value it refuses; the
    built-in scalars' plain values pass through without its chain of checks."""
    own = type_.coerce_input_value

    def checked(value: Any) -> Any:
        try:
            return own(value)
        except Exception:  # noqa: BLE001 - invalid: graphql-core reports it
            return Undefined

    return unchanged_or(type_, checked)
