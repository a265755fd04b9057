"""CompiledVariables (schema/variables.py) coerces a list variable to exactly what
graphql-core coerces it to, and leaves every value it finds invalid, and every type
it cannot plan, to graphql-core, so the errors are graphql-core's own."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    Undefined,
    build_schema,
    is_input_object_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    parse,
)
from graphql.utilities import coerce_input_value
from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.root import GatewayExecution, schema
from schema.variables import Unplanned, plan_for, planned_variables

SERVED = schema._schema
INPUT_TYPES = sorted(  # what a variable's list can hold: input objects, scalars, enums
    (
        t
        for t in SERVED.type_map.values()
        if (is_input_object_type(t) or is_leaf_type(t)) and not t.name.startswith("__")
    ),
    key=lambda t: t.name,
)
EXECUTIONS = (StrawberryGraphQLCoreExecutionContext, GatewayExecution)  # graphql-core's, ours

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
JUNK = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4)


def _datetimes() -> st.SearchStrategy[str]:
    moments = st.datetimes(datetime(1990, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC))
    return moments.map(datetime.isoformat) | moments.map(lambda m: f"{m:%Y-%m-%d %H:%M:%S}")


def _leaves(type_: Any) -> st.SearchStrategy[Any]:
    """Values of a scalar or enum: mostly valid ones, and any JSON value."""
    if isinstance(type_, GraphQLEnumType):
        valid: st.SearchStrategy[Any] = st.sampled_from(sorted(type_.values))
    else:
        valid = {
            "String": st.text(max_size=8),
            "ID": st.text(max_size=8) | st.integers(),
            "Int": st.integers(-(2**32), 2**32),
            "Float": st.floats() | st.integers(-(2**60), 2**60),
            "Boolean": st.booleans(),
            "DateTime": _datetimes(),
            "JSON": JSON_VALUES,
        }.get(type_.name, JUNK)
    return st.one_of(valid, valid, valid, JUNK)


def values_of(type_: GraphQLInputType) -> st.SearchStrategy[Any]:
    """Values a client may send for type_: valid ones, and ones off in every way
    coercion checks (nulls, missing and unknown fields, wrong kinds, single values
    for lists)."""
    if is_non_null_type(type_):
        return st.one_of(values_of(type_.of_type), values_of(type_.of_type), st.none())
    if is_list_type(type_):
        item = values_of(type_.of_type)
        return st.one_of(st.lists(item, max_size=3), item, st.none())
    if isinstance(type_, GraphQLInputObjectType):
        fields = {name: values_of(field.type) for name, field in type_.fields.items()}
        whole = st.fixed_dictionaries(fields)
        some = st.fixed_dictionaries({}, optional=fields)
        extra = st.builds(lambda d, v: {**d, "notAField": v}, some, JUNK)
        return st.one_of(whole, whole, some, extra, JUNK)
    assert isinstance(type_, GraphQLScalarType | GraphQLEnumType)
    return _leaves(type_) | st.none()


def _same(ours: Any, theirs: Any) -> bool:
    """Equal coerced values (a NaN equals a NaN: neither coerces, but JSON keeps it)."""
    if isinstance(ours, float) and isinstance(theirs, float):
        return ours == theirs or (math.isnan(ours) and math.isnan(theirs))
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return ours.keys() == theirs.keys() and all(_same(ours[k], theirs[k]) for k in ours)
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) and all(map(_same, ours, theirs))
    return type(ours) is type(theirs) and ours == theirs


@pytest.mark.parametrize("input_type", INPUT_TYPES, ids=lambda t: t.name)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_a_plan_coerces_every_value_as_graphql_core_does(
    input_type: GraphQLInputObjectType | GraphQLScalarType | GraphQLEnumType, data: st.DataObject
) -> None:
    list_type = GraphQLNonNull(GraphQLList(GraphQLNonNull(input_type)))
    value = data.draw(st.lists(values_of(GraphQLNonNull(input_type)), min_size=1, max_size=4))
    theirs = coerce_input_value(value, list_type)
    ours = plan_for(list_type)(value)
    assert (ours is Undefined) == (theirs is Undefined)
    if theirs is not Undefined:
        assert _same(ours, theirs)


INGEST = (
    "mutation($events: [ProductEventInput!]!) { ingestProductEvents(events: $events) { accepted } }"
)


def _events(count: int) -> list[dict[str, Any]]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    return [
        {
            "eventId": f"e-{n}",
            "timestamp": (start + timedelta(minutes=n)).isoformat(),
            "productId": f"p-{n % 3}",
            "eventType": "page_view",
            "durationMs": n * 1.5,
            "isError": n % 7 == 0,
            "properties": {"n": n, "tags": ["a", n]},
            **({"country": "DE"} if n % 2 else {}),
        }
        for n in range(count)
    ]


def _build(execution: Any, query: str, variables: dict[str, Any], name: str | None = None) -> Any:
    return execution.build(SERVED, parse(query), None, None, variables, name)


def test_a_batch_variable_is_planned_and_coerced_as_graphql_core_coerces_it() -> None:
    events = _events(300)
    planned = planned_variables(SERVED, parse(INGEST), None, {"events": events})
    assert set(planned) == {"events"}
    theirs, ours = (_build(e, INGEST, {"events": events}) for e in EXECUTIONS)
    assert ours.variable_values.coerced == theirs.variable_values.coerced
    assert ours.variable_values.coerced["events"][1]["country"] == "DE"
    first = ours.variable_values.coerced["events"][0]
    assert first["timestamp"] == datetime(2026, 11, 1, tzinfo=UTC)
    assert ours.variable_values.sources["events"].value is events


@pytest.mark.parametrize(
    ("field", "bad"),
    [("eventId", 5), ("timestamp", "yesterday"), ("durationMs", "fast"), ("unknown", 1)],
)
def test_an_invalid_row_gets_graphql_core_s_own_error(field: str, bad: Any) -> None:
    events = _events(300)
    events[217][field] = bad
    assert planned_variables(SERVED, parse(INGEST), None, {"events": events}) == {}
    theirs, ours = (_build(e, INGEST, {"events": events}) for e in EXECUTIONS)
    assert isinstance(ours, list)
    assert ours
    assert [e.formatted for e in ours] == [e.formatted for e in theirs]
    assert "at [217]" in ours[0].message


def test_a_missing_required_field_and_a_null_row_are_refused_alike() -> None:
    for broken in ({"eventId": "x", "productId": "p"}, None):
        events: list[Any] = [*_events(10), broken]
        theirs, ours = (_build(e, INGEST, {"events": events}) for e in EXECUTIONS)
        assert isinstance(ours, list)
        assert [e.formatted for e in ours] == [e.formatted for e in theirs]


def test_the_operation_named_is_the_one_planned() -> None:
    query = (
        "query A($n: [Int!]) { __typename } "
        "mutation B($events: [ProductEventInput!]!) { ingestProductEvents(events: $events) "
        "{ accepted } }"
    )
    events = _events(3)
    assert set(planned_variables(SERVED, parse(query), "B", {"events": events})) == {"events"}
    assert planned_variables(SERVED, parse(query), None, {"events": events}) == {}
    theirs, ours = (_build(e, query, {"events": events}, "B") for e in EXECUTIONS)
    assert ours.variable_values.coerced == theirs.variable_values.coerced


NESTING = build_schema(
    """
    input Node { name: String, child: Node }
    input Flat { name: String!, size: Int = 3 }
    type Query { nodes(all: [Node!]): Int, flats(all: [Flat!]!): Int }
    """
)


def test_a_type_that_nests_itself_is_left_to_graphql_core() -> None:
    with pytest.raises(Unplanned):
        plan_for(GraphQLList(NESTING.type_map["Node"]))  # type: ignore[arg-type]
    deep: dict[str, Any] = {"name": "leaf"}
    for _ in range(300):
        deep = {"name": "n", "child": deep}
    query = "query($all: [Node!]) { nodes(all: $all) }"
    variables = {"all": [deep]}
    assert planned_variables(NESTING, parse(query), None, variables) == {}
    theirs, ours = (e.build(NESTING, parse(query), None, None, variables, None) for e in EXECUTIONS)
    assert isinstance(ours, list)
    assert [e.message for e in ours] == [e.message for e in theirs]
    assert "nested too deeply" in ours[0].message


def test_defaults_and_single_values_are_coerced_as_graphql_core_does() -> None:
    flats = NESTING.type_map["Flat"]
    list_type = GraphQLNonNull(GraphQLList(GraphQLNonNull(flats)))  # type: ignore[arg-type]
    for value in ([{"name": "a"}, {"name": "b", "size": 9}], [{"name": "a", "size": None}]):
        coerced = plan_for(list_type)(value)
        assert coerced == coerce_input_value(value, list_type)
    assert plan_for(list_type)([{"name": "a"}])[0]["size"] == 3
    single = GraphQLList(NESTING.type_map["Flat"])  # type: ignore[arg-type]
    assert plan_for(single)({"name": "x"}) == coerce_input_value({"name": "x"}, single)
