"""The Model node, its connections, and the model root fields."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.engine import RowMapping
from strawberry.types import Info

from db.ingest.predictions import PREDICTION
from resolvers import models as resolve
from resolvers.ingest import ingest
from schema.common import Connection, Granularity, IngestResult, TimeRange, connection, or_default
from schema.model_types import (
    ActualInput,
    DriftReport,
    ModelMetrics,
    ModelPoint,
    Prediction,
    PredictionInput,
)

ENVIRONMENT = "production"


@strawberry.type
class PredictionConnection(Connection[Prediction]):
    pass


@strawberry.type
class Model:
    id: strawberry.ID

    @classmethod
    def of(cls, row: RowMapping) -> Model:
        """A model node from its catalog row."""
        return cls(id=strawberry.ID(row["id"]))

    @strawberry.field(
        description="versions seen in any environment, newest first by their latest prediction time"
    )
    async def versions(self, info: Info[Any, Any]) -> list[str]:
        return await resolve.versions(info, self.id)

    @strawberry.field
    async def environments(self, info: Info[Any, Any]) -> list[str]:
        return await resolve.environments(info, self.id)

    @strawberry.field(
        description='version null: all versions; "latest": the version with the newest '
        "prediction (before now) in the environment; environment null: every environment"
    )
    async def performance(
        self,
        info: Info[Any, Any],
        version: str | None = None,
        environment: str | None = ENVIRONMENT,
        range: TimeRange | None = None,
    ) -> ModelMetrics:
        return await resolve.performance(info, self.id, version, environment, range)

    @strawberry.field(description="one point per bucket that has predictions, in time order")
    async def timeseries(
        self,
        info: Info[Any, Any],
        granularity: Granularity,
        version: str | None = None,
        environment: str | None = ENVIRONMENT,
        range: TimeRange | None = None,
    ) -> list[ModelPoint]:
        return await resolve.timeseries(info, self.id, granularity, version, environment, range)

    @strawberry.field
    async def drift(
        self,
        info: Info[Any, Any],
        version: str | None = None,
        environment: str | None = ENVIRONMENT,
        recent_window_hours: int | None = 6,
        historical_window_hours: int | None = 168,
        threshold: float | None = 0.2,
    ) -> DriftReport:
        windows = (or_default(recent_window_hours, 6), or_default(historical_window_hours, 168))
        return await resolve.drift(
            info, self.id, version, environment, windows, 0.2 if threshold is None else threshold
        )

    @strawberry.field(description="newest first")
    async def predictions(
        self,
        info: Info[Any, Any],
        version: str | None = None,
        environment: str | None = ENVIRONMENT,
        range: TimeRange | None = None,
        first: int | None = 100,
        after: str | None = None,
    ) -> PredictionConnection:
        page = await resolve.predictions(
            info, self.id, version, environment, range, (or_default(first, 100), after)
        )
        return connection(PredictionConnection, page)


@strawberry.type
class ModelConnection(Connection[Model]):
    pass


@strawberry.type
class ModelQuery:
    @strawberry.field(description="ordered by id")
    async def models(
        self,
        info: Info[Any, Any],
        search: str | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> ModelConnection:
        page = await resolve.model_page(info, search, or_default(first, 50), after)
        return connection(ModelConnection, page, [Model.of(row) for row in page.items])

    @strawberry.field
    async def model(self, info: Info[Any, Any], id: strawberry.ID) -> Model | None:
        row = await resolve.find_model(info, id)
        return Model.of(row) if row is not None else None


@strawberry.type
class ModelMutation:
    @strawberry.mutation
    async def ingest_predictions(
        self, info: Info[Any, Any], predictions: list[PredictionInput]
    ) -> IngestResult:
        return await ingest(info, PREDICTION, predictions, "predictions")

    @strawberry.mutation(
        description="sets the ground truth of stored predictions; an equal actual is a "
        "duplicate, a different one replaces it, an unknown predictionId is rejected"
    )
    async def record_actuals(
        self, info: Info[Any, Any], actuals: list[ActualInput]
    ) -> IngestResult:
        return await resolve.record_actuals(info, actuals)
