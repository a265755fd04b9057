"""PlainFields (schema/execution.py) answers exactly what graphql-core's own execution
answers, data and errors alike, and skips graphql-core's per-field work only where
every field of a selection is a plain attribute read."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.execution import PlainFields
from schema.scalars import SCALARS


@strawberry.enum
class Shade(Enum):
    DARK = "dark"
    LIGHT = "light"


@strawberry.type
class Numbers:
    count: int
    rate: float
    mean: float | None
    shade: Shade


@strawberry.type
class Point:
    bucket: datetime
    numbers: Numbers
    maybe: Numbers | None
    label: str

    @strawberry.field
    def doubled(self) -> int:
        return self.numbers.count * 2


def _points(broken: int | None = None) -> list[Point]:
    made = []
    for n in range(6):
        numbers = Numbers(
            count=n,
            rate=n / 7,
            mean=None if n % 2 else n * 1.5,
            shade=Shade.DARK if n % 3 else Shade.LIGHT,
        )
        label: Any = None if n == broken else f"p{n}"  # a null where String! forbids one
        made.append(
            Point(
                bucket=datetime(2026, 11, 1, n, tzinfo=UTC),
                numbers=numbers,
                maybe=numbers if n % 2 else None,
                label=label,
            )
        )
    return made


@strawberry.type
class Query:
    @strawberry.field
    def points(self, broken: int | None = None) -> list[Point]:
        return _points(broken)

    @strawberry.field
    def maybe_points(self) -> list[Point | None]:
        return [None, *_points()]

    @strawberry.field
    def strict_points(self, broken: int | None = None) -> list[Point]:
        made: list[Any] = _points()
        if broken is not None:
            made[broken] = None
        return made

    @strawberry.field
    def one(self) -> Point:
        return _points()[3]

    @strawberry.field
    def odd_points(self, odd: str) -> list[Point]:
        made = _points()
        for name, value in ODD[odd].items():
            setattr(made[1] if name == "label" else made[1].numbers, name, value)
        return made


# Values a scalar's fast path must not pass as they are (schema.execution._leaf):
# each gets graphql-core's own coercion or error.
ODD: dict[str, dict[str, Any]] = {
    "past Int": {"count": 2**31},
    "below Int": {"count": -(2**31) - 1},
    "greatest Int": {"count": 2**31 - 1},
    "a bool for Int": {"count": True},
    "a float for Int": {"count": 4.0},
    "NaN": {"rate": float("nan")},
    "infinity": {"rate": float("-inf")},
    "an int for Float": {"rate": 3},
    "a bool for Float": {"rate": False},
    "an int for String": {"label": 5},
    "a bool for String": {"label": True},
}


class _Counting(PlainFields):
    """PlainFields that counts the fields graphql-core executed one by one."""

    executed = 0

    def execute_field(self, *args: Any, **kwargs: Any) -> Any:
        type(self).executed += 1
        return super().execute_field(*args, **kwargs)


def _schema(context: type) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        config=strawberry.schema.config.StrawberryConfig(scalar_map=SCALARS),
        execution_context_class=context,
    )


PLAIN = _schema(_Counting)
REFERENCE = _schema(StrawberryGraphQLCoreExecutionContext)

DOCUMENTS = [
    "{ points { bucket label numbers { count rate mean shade } } }",
    "{ points { __typename b: bucket numbers { __typename c: count rate } maybe { count } } }",
    "{ points { ...P } } fragment P on Point { label numbers { ...N } } "
    "fragment N on Numbers { mean shade }",
    "query($no: Boolean!) { points { label @skip(if: $no) numbers { count @include(if: $no) } } }",
    "{ points { label doubled numbers { count } } }",  # a resolver among plain fields
    "{ points(broken: 2) { label numbers { count } } }",  # a null for String!
    "{ maybePoints { label numbers { rate } } }",
    "{ strictPoints(broken: 4) { label } }",  # a null item in [Point!]!
    "{ one { bucket numbers { count } maybe { count } } }",
    "{ points { label numbers { count } } one { label } }",
    *[f'{{ oddPoints(odd: "{odd}") {{ label numbers {{ count rate }} }} }}' for odd in ODD],
]


@pytest.mark.parametrize("document", DOCUMENTS)
async def test_every_document_gets_the_same_data_and_errors_as_graphql_core_gives(document):
    variables = {"no": True}
    got = await PLAIN.execute(document, variable_values=variables)
    expected = await REFERENCE.execute(document, variable_values=variables)
    assert got.data == expected.data
    assert [(e.message, e.path) for e in got.errors or []] == [
        (e.message, e.path) for e in expected.errors or []
    ]


async def test_plain_selections_skip_graphql_cores_per_field_execution():
    _Counting.executed = 0
    result = await PLAIN.execute("{ points { bucket label numbers { count rate mean shade } } }")
    assert result.errors is None
    assert result.data is not None
    assert len(result.data["points"]) == 6
    assert result.data["points"][1]["numbers"] == {
        "count": 1,
        "rate": 1 / 7,
        "mean": None,
        "shade": "DARK",
    }
    assert result.data["points"][0]["bucket"] == "2026-11-01T00:00:00+00:00"
    assert _Counting.executed == 1  # the root field alone

    _Counting.executed = 0
    await PLAIN.execute("{ points { label doubled numbers { count } } }")
    # A resolver among the fields: each point's fields go through graphql-core
    # (three per point), its plain `numbers` selection does not.
    assert _Counting.executed == 1 + 6 * 3
