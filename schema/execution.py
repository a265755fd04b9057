"""Plain fields completed without graphql-core's machinery per field.

Most of what the gateway answers is data already computed: a timeseries point
is a bucket and a metrics object of numbers, read from the attributes of
dataclass instances. graphql-core still executes each such field as if it had
a resolver of its own: a path entry, a resolve info, the resolver call, then
complete_value's chain of type checks. A 30-day hourly timeseries is 720
points and about 2,900 such fields, and they were most of its time.

PlainFields executes a selection set whose every field is plain in one pass
of attribute reads: a field is plain when strawberry resolves it by reading
an attribute (its resolver is strawberry's basic-field resolver: no resolver,
no field extension), it takes no argument, and its type is a scalar or enum,
or an object type without an is_type_of check whose selection is plain too
(`__typename` is plain as well). Anything else, and any value the pass does
not take as it is (a null where the type forbids one, a value its scalar
refuses, an exception), sends the selection set back to graphql-core's own
execution, which then raises the error it always would: attribute reads have
no side effects, so doing them twice changes nothing. Results are the same
dictionaries in the same order (the selection set's order).

Measured (the hourly timeseries over HTTP, at 1M and 10M events): the README,
How it works, step 8, and its Benchmark section.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import isfinite
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLString,
    Undefined,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

_STRAWBERRY = GraphQLCoreConverter.DEFINITION_BACKREF  # a field's strawberry definition


@dataclass(frozen=True, slots=True)
class _Plain:
    """How one response key of a plain selection set is made.

    read: the field's attribute read, None for __typename; leaf: the scalar's
    output coercion (_leaf); nested: the object's own plan;
    typename: the value of __typename.
    """

    name: str
    read: Callable[[Any], Any] | None
    non_null: bool
    leaf: Callable[[Any], Any] | None
    nested: tuple[_Plain, ...] | None
    typename: str | None = None


class _NotPlain(Exception):
    """The pass met something only graphql-core's own execution may answer."""


class PlainFields(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution, with plain selection sets completed in one pass."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per selection set (kept alive with it, so its id is not reused): its plan,
        # or None when it is not plain.
        self._plans: dict[int, tuple[GroupedFieldSet, tuple[_Plain, ...] | None]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        """The fields of one object: in one pass when they are plain."""
        plan = self._plan(parent_type, grouped_field_set)
        if plan is not None:
            try:
                return _values(plan, source_value)
            except Exception:  # noqa: BLE001, S110 - graphql-core's execution says what is wrong
                pass
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """A list of objects: each item in one pass when the items' selection is plain."""
        non_null, named = _unwrapped(return_type.of_type)
        if isinstance(result, list) and is_object_type(named) and named.is_type_of is None:
            grouped, deferred, _ = self.collect_subfields(named, field_details_list)
            plan = None if deferred else self._plan(named, grouped)
            if plan is not None:
                try:
                    return [_item(plan, item, non_null) for item in result]
                except Exception:  # noqa: BLE001, S110 - graphql-core's execution says what
                    pass
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _plan(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> tuple[_Plain, ...] | None:
        known = self._plans.get(id(grouped_field_set))
        if known is not None and known[0] is grouped_field_set:
            return known[1]
        try:
            plan = self._planned(parent_type, grouped_field_set)
        except _NotPlain:
            plan = None
        self._plans[id(grouped_field_set)] = (grouped_field_set, plan)
        return plan

    def _planned(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> tuple[_Plain, ...]:
        manager = self.middleware_manager
        if manager is not None and manager.middlewares:  # a resolve hook wraps every field
            raise _NotPlain
        return tuple(
            self._planned_field(parent_type, name, details)
            for name, details in grouped_field_set.items()
        )

    def _planned_field(
        self, parent_type: GraphQLObjectType, name: str, details: FieldDetailsList
    ) -> _Plain:
        node = details[0].node
        if node.name.value == "__typename":
            return _Plain(name, None, True, None, None, parent_type.name)
        field_def = self.schema.get_field(parent_type, node.name.value)
        if (
            field_def is None
            or field_def.args
            or node.arguments
            or not getattr(field_def.resolve, "_is_default", False)
        ):
            raise _NotPlain
        non_null, named = _unwrapped(field_def.type)
        read = _reader(field_def)
        if is_leaf_type(named):
            return _Plain(name, read, non_null, _leaf(named), None)
        if is_object_type(named) and named.is_type_of is None:
            grouped, deferred, _ = self.collect_subfields(named, details)
            nested = None if deferred else self._plan(named, grouped)
            if nested is not None:
                return _Plain(name, read, non_null, None, nested)
        raise _NotPlain


def _reader(field_def: GraphQLField) -> Callable[[Any], Any]:
    """A plain field's read: the attribute itself where strawberry's resolver would
    only getattr it (three Python calls per value, a fifth of a 30-day hourly
    timeseries' time in the pass), else that resolver."""
    definition = field_def.extensions.get(_STRAWBERRY)
    if (
        isinstance(definition, StrawberryField)
        and definition.base_resolver is None
        and definition.default_resolver is getattr
    ):
        return attrgetter(definition.python_name)
    resolve = field_def.resolve
    assert resolve is not None  # a plain field's resolver is strawberry's basic one
    return lambda source: resolve(source, None)


_INT_RANGE = range(-(2**31), 2**31)  # GraphQL's Int: 32 bits, signed


def _leaf(named: GraphQLLeafType) -> Callable[[Any], Any]:
    """A scalar's output coercion, with the values it would return unchanged passed
    as they are without its chain of type checks."""
    return unchanged_or(named, named.coerce_output_value)


def unchanged_or(named: GraphQLLeafType, coerce: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """coerce, except for the values a built-in scalar takes as they are, in and out (a
    str for String, a finite float for Float, an int in range for Int, a bool for
    Boolean): those pass without its chain of type checks."""
    if named is GraphQLFloat:
        return lambda value: value if type(value) is float and isfinite(value) else coerce(value)
    if named is GraphQLInt:
        return lambda value: value if type(value) is int and value in _INT_RANGE else coerce(value)
    if named is GraphQLString:
        return lambda value: value if type(value) is str else coerce(value)
    if named is GraphQLBoolean:
        return lambda value: value if type(value) is bool else coerce(value)
    return coerce


def _unwrapped(output: GraphQLOutputType) -> tuple[bool, Any]:
    """Whether a type is non-null, and the type inside."""
    if is_non_null_type(output):
        return True, output.of_type
    return False, output


def _item(plan: tuple[_Plain, ...], item: Any, non_null: bool) -> dict[str, Any] | None:
    """One list item's response (a null item only where the list allows one)."""
    if item is None:
        if non_null:
            raise _NotPlain
        return None
    return _values(plan, item)


def _values(plan: tuple[_Plain, ...], source: Any) -> dict[str, Any]:
    """One object's response, or _NotPlain (or any exception) to give it back."""
    out: dict[str, Any] = {}
    for field in plan:
        if field.read is None:
            out[field.name] = field.typename
            continue
        value = field.read(source)
        if value is None:
            if field.non_null:
                raise _NotPlain
            out[field.name] = None
        elif field.leaf is not None:
            coerced = field.leaf(value)
            if coerced is None or coerced is Undefined:
                raise _NotPlain
            out[field.name] = coerced
        else:
            out[field.name] = _values(field.nested, value)  # type: ignore[arg-type]
    return out
