"""Types shared by every entity kind: ranges, pages, errors, ingest results, stats."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar, Generic, Self, TypeVar

import strawberry
from strawberry.scalars import JSON
from strawberry.types.arguments import InputContext
from strawberry.types.base import StrawberryOptional
from strawberry.types.enum import StrawberryEnumDefinition

T = TypeVar("T")


@strawberry.enum
class Granularity(Enum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"


@strawberry.input(
    description="Half-open: from <= timestamp < to. Omitted to = now, "
    "omitted from = 24 hours before to."
)
class TimeRange:
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = None


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Connection(Generic[T]):
    """A page of nodes; totalCount is computed only when selected."""

    nodes: list[T]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field
    async def total_count(self) -> int:
        return await self.count()


C = TypeVar("C", bound=Connection[Any])


def connection(cls: type[C], page: Any, nodes: list[Any] | None = None) -> C:
    """A connection from a resolvers.pages.Page (nodes default to the page's items)."""
    return cls(
        nodes=page.items if nodes is None else nodes,
        page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor),
        count=page.total,
    )


def or_default(value: int | None, default: int) -> int:
    """An optional argument with a contract default: an explicit null means the default."""
    return default if value is None else value


def ingest_row(cls: type[T]) -> type[T]:
    """Mark an ingest input type whose values reach the resolver as the client sent them.

    A batch has thousands of rows, and building an object per row (Strawberry
    converts every field) was most of a mutation's cost. The resolver gets each
    row as a dict keyed by the contract's camelCase field names, values already
    coerced by GraphQL (an omitted field as its default), enums unwrapped to
    their values here: that is what db.ingest validates anyway.
    """
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    enums: list[str] | None = None  # the enum fields' names, once the types are resolved

    def from_input(_: type[T], value: Mapping[str, Any], context: InputContext) -> dict[str, Any]:
        nonlocal enums
        if enums is None:
            enums = [
                context.config.name_converter.get_graphql_name(field)
                for field in definition.fields
                if isinstance(_unwrapped(field.type), StrawberryEnumDefinition)
            ]
        row = dict(value)
        for name in enums:
            member = row.get(name)
            if member is not None:
                row[name] = member.value
        return row

    definition.from_input = from_input
    return cls


def _unwrapped(type_: object) -> object:
    return type_.of_type if isinstance(type_, StrawberryOptional) else type_


class MeasureSet:
    """Base of the metrics types: built from the measures a query computed."""

    _unset: ClassVar[dict[str, None]] = {}  # every field of a subclass, as None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._unset = dict.fromkeys(cls.__annotations__)

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Self:
        """Metrics holding the computed measures; unselected ones are never read.

        Made without the dataclass's __init__ (a subclass is a plain strawberry
        type: no __post_init__, no defaults to compute). A timeseries makes one
        per point, and passing nine fields by keyword cost twice as much.
        """
        made = cls.__new__(cls)
        fields = made.__dict__
        fields.update(cls._unset)
        if values.keys() <= fields.keys():
            fields.update(values)
        else:  # only the measures that are fields
            fields.update((name, value) for name, value in values.items() if name in fields)
        return made


@strawberry.type
class ErrorCount:
    error: str = strawberry.field(
        description="the error code (products) or error reason (endpoints)"
    )
    count: int
    share: float = strawberry.field(description="count / all errors in the same range and filter")
    last_seen: datetime


@strawberry.type(description="One row of a batch that was not stored, and why.")
class RejectedRow:
    index: int = strawberry.field(description="0-based position of the row in the submitted list")
    field: str | None = strawberry.field(description="input field at fault, camelCase, when one is")
    message: str


@strawberry.type(
    description="Outcome of a batch ingest: every submitted row is counted "
    "exactly once in accepted, duplicates or rejected."
)
class IngestResult:
    accepted: int
    duplicates: int
    rejected: list[RejectedRow]


@strawberry.enum
class IngestKind(Enum):
    PRODUCT_EVENT = "PRODUCT_EVENT"
    API_REQUEST = "API_REQUEST"
    PREDICTION = "PREDICTION"
    ACTUAL = "ACTUAL"
    METRIC_SAMPLE = "METRIC_SAMPLE"


@strawberry.type
class QuarantinedRow:
    id: strawberry.ID
    kind: IngestKind
    received_at: datetime
    field: str | None
    message: str
    raw: JSON = strawberry.field(description="the row as it was submitted")


@strawberry.type(name="QuarantineConnection")
class QuarantineConnection(Connection[QuarantinedRow]):
    pass


@strawberry.type
class GatewayStats:
    product_events: int
    api_requests: int
    predictions: int
    metric_samples: int
    products: int
    endpoints: int
    models: int
    quarantined: int
