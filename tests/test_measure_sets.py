"""MeasureSet.of (schema/common.py) holds exactly the computed measures that are
fields of the metrics type, and None for every other field."""

from __future__ import annotations

import dataclasses

from schema.endpoint_types import EndpointMetrics
from schema.model_types import ModelMetrics
from schema.product_types import ProductMetrics


def _fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def test_computed_measures_are_held_and_the_rest_are_none() -> None:
    for cls in (ProductMetrics, EndpointMetrics, ModelMetrics):
        names = _fields(cls)
        computed = {names[0]: 7, names[-1]: 0.25}
        made = cls.of(computed)
        assert type(made) is cls
        assert {n: getattr(made, n) for n in names} == {n: computed.get(n) for n in names}
        # The same as the dataclass's own __init__ would make.
        assert made == cls(**{n: computed.get(n) for n in names})


def test_values_that_are_not_fields_are_left_out() -> None:
    names = _fields(ProductMetrics)
    made = ProductMetrics.of({"total_events": 3, "not_a_measure": 1})
    assert made.total_events == 3
    assert not hasattr(made, "not_a_measure")
    assert set(vars(made)) == set(names)


def test_each_metrics_object_is_its_own() -> None:
    first = ProductMetrics.of({"total_events": 1})
    second = ProductMetrics.of({})
    assert first.total_events == 1
    assert second.total_events is None
    assert ProductMetrics._unset["total_events"] is None  # the shared template is untouched
