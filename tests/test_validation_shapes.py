"""Validation once per document shape: a document whose shape passed every rule is
checked against its literals only, and its answer is still graphql-core's own."""

from __future__ import annotations

import pytest
from graphql import parse
from strawberry.schema.schema import validate_document

from schema import validation_shapes
from schema.root import schema
from schema.validation_shapes import shape

RANGE = '{from: "%s", to: "2026-11-08T00:00:00Z"}'
OVERVIEW = '{ product(id: "%s") { overview(range: ' + RANGE + ") { totalEvents } } }"

# (a document of a shape that passes, a sibling of the same text pattern that must not)
SIBLINGS = [
    # a literal that does not fit its type: found by the literal rule
    (OVERVIEW % ("shop", "2026-11-01T00:00:00Z"), OVERVIEW % ("shop", "not a time")),
    ("{ products(first: 20) { totalCount } }", "{ products(first: 99999999999) { totalCount } }"),
    ("{ products(first: 20) { totalCount } }", '{ products(first: "20") { totalCount } }'),
    # the same response name with different arguments: another shape, validated in full
    (
        '{ a: product(id: "x") { id } a: product(id: "x") { id } }',
        '{ a: product(id: "x") { id } a: product(id: "y") { id } }',
    ),
    # an enum value is part of the shape
    (
        '{ product(id: "x") { breakdown(by: COUNTRY, range: '
        + RANGE % "2026-11-01T00:00:00Z"
        + ") { value } } }",
        '{ product(id: "x") { breakdown(by: PLANET, range: '
        + RANGE % "2026-11-01T00:00:00Z"
        + ") { value } } }",
    ),
    # a null where a value is required is part of the shape
    (OVERVIEW % ("shop", "2026-11-01T00:00:00Z"), OVERVIEW.replace('"%s"', "null", 1) % ("x",)),
]


def _reference(query: str) -> list[tuple[str, list[tuple[int, int]]]]:
    """graphql-core's and strawberry's own validation of the document, in full."""
    errors = validate_document(schema._schema, parse(query), tuple(_rules()))
    return [(e.message, [(loc.line, loc.column) for loc in e.locations or []]) for e in errors]


def _rules() -> list[type]:
    from graphql import specified_rules

    return list(specified_rules)


def _answered(result) -> list[tuple[str, list[tuple[int, int]]]]:
    return [
        (e.message, [(loc.line, loc.column) for loc in e.locations or []])
        for e in result.errors or []
        if (e.extensions or {}).get("code") == "GRAPHQL_VALIDATION_FAILED"
    ]


@pytest.mark.parametrize(("passes", "fails"), SIBLINGS)
async def test_a_document_of_a_known_shape_is_refused_as_graphql_core_refuses_it(
    gql, passes, fails
):
    assert _reference(passes) == []
    assert _reference(fails) != []
    first = await gql.result(passes)
    assert _answered(first) == []
    assert _answered(await gql.result(fails)) == _reference(fails)
    # and the passing shape still passes
    assert _answered(await gql.result(passes)) == []


def test_literals_count_only_through_their_equality():
    def of(query: str):
        return shape(parse(query))

    assert of(OVERVIEW % ("a", "2026-11-01T00:00:00Z")) == of(
        OVERVIEW % ("b", "2026-11-02T00:00:00Z")
    )
    assert of('{ a: product(id: "x") { id } b: product(id: "x") { id } }') != of(
        '{ a: product(id: "x") { id } b: product(id: "y") { id } }'
    )
    assert of("{ products(first: 1) { totalCount } }") != of(
        '{ products(first: "1") { totalCount } }'
    )
    # a block string is not equal to the plain one (their printed arguments differ)
    assert of('{ a: product(id: "x") { id } a: product(id: "x") { id } }') != of(
        '{ a: product(id: "x") { id } a: product(id: """x""") { id } }'
    )


async def test_a_known_shape_is_not_validated_in_full_again(gql, monkeypatch):
    full: list[int] = []

    def counting(*args, **kwargs):
        full.append(1)
        return validate_document(*args, **kwargs)

    monkeypatch.setattr(validation_shapes, "validate_document", counting)
    monkeypatch.setattr(validation_shapes, "_passed", type(validation_shapes._passed)())
    for day in range(1, 6):
        result = await gql.result(OVERVIEW % ("shop", f"2026-11-0{day}T00:00:00Z"))
        assert result.errors is None, result.errors
    assert len(full) == 1
    refused = await gql.result(OVERVIEW % ("shop", "2026-13-01T00:00:00Z"))
    assert _answered(refused)
    assert len(full) == 1  # the literal rule alone found it
