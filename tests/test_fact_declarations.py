"""The served schema's per-fact enums and inputs match the Fact declarations they serve."""

from __future__ import annotations

import dataclasses

import pytest
from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType

from db.facts.metric_samples import METRIC_SAMPLES
from resolvers.aggregates import FactKind
from schema.endpoints import ENDPOINT
from schema.metric_types import Aggregation
from schema.products import PRODUCT
from schema.root import schema

KINDS = [PRODUCT, ENDPOINT]
SERVED = schema._schema


def _served(name: str) -> object:
    found = SERVED.get_type(name)
    assert found is not None, f"{name} is not in the served schema"
    return found


def _graphql_name(cls: type) -> str:
    return str(cls.__strawberry_definition__.name)  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.fact.name)
def test_dimension_enum_values_are_exactly_the_declared_dimensions(kind: FactKind) -> None:
    enum = _served(kind.dimension.__name__)
    assert isinstance(enum, GraphQLEnumType)
    assert set(enum.values) == set(kind.fact.dimensions)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.fact.name)
def test_filter_input_fields_are_exactly_the_declared_filters(kind: FactKind) -> None:
    given = _served(_graphql_name(kind.filter))
    assert isinstance(given, GraphQLInputObjectType)
    assert set(given.fields) == set(kind.fact.filters)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.fact.name)
def test_every_metrics_field_is_a_declared_measure(kind: FactKind) -> None:
    served = _served(_graphql_name(kind.metrics))
    assert isinstance(served, GraphQLObjectType)
    fields = {f.name for f in dataclasses.fields(kind.metrics)}  # type: ignore[arg-type]
    assert len(fields) == len(served.fields)
    assert fields <= set(kind.fact.measures)


def test_aggregations_are_exactly_the_metric_sample_measures() -> None:
    assert {a.value for a in Aggregation} == set(METRIC_SAMPLES.measures)
    served = _served("Aggregation")
    assert isinstance(served, GraphQLEnumType)
    assert set(served.values) == {a.name for a in Aggregation}


def test_the_product_events_index_covers_every_column_their_rollups_read() -> None:
    """The raw edges of a rolled question (an overview, a timeseries, a breakdown or a
    filter on one dimension) are read from the (product_id, ts) index alone only
    while it includes every column the rollups read besides the product and the time."""
    from db.facts.product_events import PRODUCT_EVENTS
    from db.rolled import source_columns
    from db.tables import PRODUCT_EVENTS_COVERED, product_events

    read = set(source_columns(PRODUCT_EVENTS)) - {"product_id", "ts"}
    assert set(PRODUCT_EVENTS_COVERED) == read
    (index,) = [
        i for i in product_events.indexes if [c.name for c in i.columns] == ["product_id", "ts"]
    ]
    assert index.dialect_options["postgresql"]["include"] == list(PRODUCT_EVENTS_COVERED)
