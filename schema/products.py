"""The Product node, its connection, and the product root fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.engine import RowMapping
from strawberry.types import Info

from db.facts.product_events import PRODUCT_EVENTS
from db.ingest.product_events import PRODUCT_EVENT
from resolvers import insights as explained
from resolvers import products as resolve
from resolvers.aggregates import FactKind
from resolvers.ingest import ingest
from schema.common import Connection, IngestResult, TimeRange, connection, or_default
from schema.fact_fields import breakdown_field, metrics_field, timeseries_field, top_errors_field
from schema.insights import insights_field
from schema.product_types import (
    EngagementRow,
    Funnel,
    ProductDimension,
    ProductEvent,
    ProductEventFilter,
    ProductEventInput,
    ProductMetrics,
    ProductPoint,
    ProductSlice,
)


@strawberry.type
class ProductEventConnection(Connection[ProductEvent]):
    pass


PRODUCT = FactKind(
    PRODUCT_EVENTS,
    metrics=ProductMetrics,
    slice=ProductSlice,
    point=ProductPoint,
    dimension=ProductDimension,
    filter=ProductEventFilter,
    entity="id",
)


@strawberry.type
class Product:
    id: strawberry.ID
    name: str | None = strawberry.field(
        description="productName of the product's event with the newest timestamp that has one"
    )
    first_seen: datetime | None
    last_seen: datetime | None

    @classmethod
    def of(cls, row: RowMapping) -> Product:
        """A product node from its catalog row."""
        return cls(
            id=strawberry.ID(row["id"]),
            name=row["name"],
            first_seen=row["first_seen"],
            last_seen=row["last_seen"],
        )

    overview = metrics_field(PRODUCT)
    top_errors = top_errors_field(
        PRODUCT,
        "non-empty error codes of error events, most frequent first, "
        "ties by code; share is over all error events, with or without a code",
    )
    breakdown = breakdown_field(
        PRODUCT, "one slice per value, ordered by totalEvents descending, then value"
    )
    timeseries = timeseries_field(PRODUCT, "one point per bucket that has events, in time order")

    @strawberry.field(
        description="one row per event type, ordered by events descending, then eventType"
    )
    async def engagement(
        self,
        info: Info[Any, Any],
        range: TimeRange | None = None,
        filter: ProductEventFilter | None = None,
    ) -> list[EngagementRow]:
        return await resolve.engagement(info, self.id, range, filter)

    @strawberry.field
    async def funnel(
        self,
        info: Info[Any, Any],
        steps: list[str],
        range: TimeRange | None = None,
        within_seconds: int | None = 86400,
    ) -> Funnel:
        return await resolve.product_funnel(
            info, self.id, steps, range, or_default(within_seconds, 86400)
        )

    @strawberry.field(description="newest first")
    async def events(
        self,
        info: Info[Any, Any],
        range: TimeRange | None = None,
        filter: ProductEventFilter | None = None,
        first: int | None = 100,
        after: str | None = None,
    ) -> ProductEventConnection:
        page = await resolve.events(info, self.id, range, filter, or_default(first, 100), after)
        return connection(ProductEventConnection, page)

    insights = insights_field(explained.PRODUCT, "id")


@strawberry.type
class ProductConnection(Connection[Product]):
    pass


@strawberry.type
class ProductQuery:
    @strawberry.field(description="ordered by id")
    async def products(
        self,
        info: Info[Any, Any],
        search: str | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> ProductConnection:
        page = await resolve.product_page(info, search, or_default(first, 50), after)
        return connection(ProductConnection, page, [Product.of(row) for row in page.items])

    @strawberry.field
    async def product(self, info: Info[Any, Any], id: strawberry.ID) -> Product | None:
        row = await resolve.find_product(info, id)
        return Product.of(row) if row is not None else None


@strawberry.type
class ProductMutation:
    @strawberry.mutation
    async def ingest_product_events(
        self, info: Info[Any, Any], events: list[ProductEventInput]
    ) -> IngestResult:
        return await ingest(info, PRODUCT_EVENT, events, "events")
