"""Model fields: performance, timeseries, drift, predictions, and the model catalog."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import RowMapping
from strawberry.types import Info

from db import catalog
from db import models as model_sql
from db.aggregates import Group
from db.compiler import AggregateQuery, FilterValues
from db.engine import Database
from db.facts.predictions import PREDICTIONS
from db.ingest.batch import IngestOutcome
from db.ingest.predictions import record_actuals as store_actuals
from db.ingest.shape import RowContext
from db.tables import models
from resolvers.access import APPEND, require
from resolvers.arguments import bounded, selected_measures, time_window
from resolvers.context import context_of
from resolvers.errors import bad_input
from resolvers.ingest import confine_actuals, ingest_rows, with_refused
from resolvers.pages import Page, catalog_page, find_entity, rows_page
from schema.common import Granularity, IngestResult, TimeRange
from schema.model_types import ActualInput, DriftReport, ModelMetrics, ModelPoint, Prediction

MODELS = catalog.Catalog(models, key="id", searchable=("id",))
LATEST = "latest"
# The lookup of "latest" looks at every prediction the clock could have accepted:
# up to the ingest tolerance ahead of it (as Model.versions does).
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
MAX_WINDOW_HOURS = 366 * 24
PSI_DRIFT = 0.2
Filters = tuple[tuple[str, FilterValues], ...]


def _filters(version: str | None, environment: str | None) -> Filters:
    """Equality filters; a null version or environment does not filter."""
    pairs: list[tuple[str, FilterValues]] = []
    if environment is not None:
        pairs.append(("environment", (environment,)))
    if version is not None:
        pairs.append(("version", (version,)))
    return tuple(pairs)


async def _load(info: Info[Any, Any], model_id: str, question: AggregateQuery) -> list[Group]:
    groups: list[Group] = await context_of(info).loaders.aggregates.load(
        (PREDICTIONS, question, model_id)
    )
    return groups


async def latest_version(
    info: Info[Any, Any], model_id: str, environment: str | None
) -> str | None:
    """The version with the newest prediction in the environment (ties: the greater name),
    counting predictions stamped up to the ingest tolerance ahead of now.

    Read from the model_versions catalog, batched across the models of a list.
    """
    clock = context_of(info).row_context()
    horizon = clock.now + clock.future_tolerance
    latest: str | None = await context_of(info).loaders.load(
        model_sql.latest_versions, (environment, horizon), model_id
    )
    return latest


async def _scope(
    info: Info[Any, Any], model_id: str, version: str | None, environment: str | None
) -> Filters:
    """Filters for a version argument; "latest" of a model without predictions matches nothing."""
    if version != LATEST:
        return _filters(version, environment)
    latest = await latest_version(info, model_id, environment)
    return (*_filters(None, environment), ("version", (latest,) if latest else ()))


def _metrics(groups: Sequence[Group], measures: frozenset[str]) -> ModelMetrics:
    return ModelMetrics.of(groups[0].values if groups else PREDICTIONS.empty_values(measures))


async def performance(
    info: Info[Any, Any],
    model_id: str,
    version: str | None,
    environment: str | None,
    range_: TimeRange | None,
) -> ModelMetrics:
    """The model's metrics over the range; only the selected measures are computed."""
    measures = selected_measures(info, PREDICTIONS.measures)
    start, end = time_window(range_, context_of(info).now)
    if not measures:
        return ModelMetrics.of({})
    if version != LATEST:
        question = AggregateQuery(measures, start, end, _filters(version, environment))
        return _metrics(await _load(info, model_id, question), measures)
    # Both questions are the same for every model, so a list of models costs two statements.
    by_version = AggregateQuery(
        measures, start, end, _filters(None, environment), group_by=("VERSION",)
    )
    latest, groups = await asyncio.gather(
        latest_version(info, model_id, environment), _load(info, model_id, by_version)
    )
    return _metrics([g for g in groups if g.key == latest], measures)


async def timeseries(
    info: Info[Any, Any],
    model_id: str,
    granularity: Granularity,
    version: str | None,
    environment: str | None,
    range_: TimeRange | None,
) -> list[ModelPoint]:
    """One point per bucket that has predictions, in time order."""
    measures = selected_measures(info, PREDICTIONS.measures, "metrics")
    start, end = time_window(range_, context_of(info).now)
    filters = await _scope(info, model_id, version, environment)
    question = AggregateQuery(measures, start, end, filters, granularity=granularity.value)
    groups = await _load(info, model_id, question)
    return [ModelPoint(bucket=g.key, metrics=ModelMetrics.of(g.values)) for g in groups]


def _change(recent: float | None, historical: float | None) -> float | None:
    """Relative change; null when either side is unknown or the base is 0."""
    if recent is None or not historical:
        return None
    return (recent - historical) / historical


async def _psi(info: Info[Any, Any], model_id: str, filters: Filters, *bounds: datetime) -> Any:
    question = model_sql.PsiQuestion(filters, *bounds)
    return await context_of(info).loaders.load(model_sql.prediction_psi, question, model_id)


async def _nothing() -> None:
    return None


async def drift(
    info: Info[Any, Any],
    model_id: str,
    version: str | None,
    environment: str | None,
    windows: tuple[int, int],
    threshold: float,
) -> DriftReport:
    """The recent window against the historical one before it, as the contract defines."""
    recent_hours, historical_hours = windows
    bounded(recent_hours, 1, MAX_WINDOW_HOURS, "recentWindowHours")
    bounded(historical_hours, 1, MAX_WINDOW_HOURS, "historicalWindowHours")
    if historical_hours <= recent_hours:
        raise bad_input(
            f"historicalWindowHours ({historical_hours}) must be greater than "
            f"recentWindowHours ({recent_hours}): the historical window ends where "
            "the recent one starts",
            "historicalWindowHours",
        )
    now = context_of(info).now
    split, start = now - timedelta(hours=recent_hours), now - timedelta(hours=historical_hours)
    filters = await _scope(info, model_id, version, environment)
    measures = frozenset(
        {"rmse", "mae"}
        | selected_measures(info, PREDICTIONS.measures, "recent")
        | selected_measures(info, PREDICTIONS.measures, "historical")
    )
    wants_psi = selected_measures(info, {"prediction_psi": None, "is_drifting": None})
    recent, historical, psi = await asyncio.gather(
        _load(info, model_id, AggregateQuery(measures, split, now, filters)),
        _load(info, model_id, AggregateQuery(measures, start, split, filters)),
        _psi(info, model_id, filters, start, split, now) if wants_psi else _nothing(),
    )
    recent_metrics, historical_metrics = _metrics(recent, measures), _metrics(historical, measures)
    rmse_change = _change(recent_metrics.rmse, historical_metrics.rmse)
    return DriftReport(
        recent=recent_metrics,
        historical=historical_metrics,
        rmse_change=rmse_change,
        mae_change=_change(recent_metrics.mae, historical_metrics.mae),
        prediction_psi=psi,
        is_drifting=(rmse_change is not None and rmse_change > threshold)
        or (psi is not None and psi > PSI_DRIFT),
    )


async def predictions(
    info: Info[Any, Any],
    model_id: str,
    version: str | None,
    environment: str | None,
    range_: TimeRange | None,
    page: tuple[int, str | None],
) -> Page[Prediction]:
    """The model's predictions, newest first, in keyset pages."""
    start, end = time_window(range_, context_of(info).now)
    filters = await _scope(info, model_id, version, environment)
    question = AggregateQuery(frozenset(), start, end, filters)
    first, after = page
    return await rows_page(
        context_of(info), PREDICTIONS, "prediction", model_id, question, first, after, _prediction
    )


def _prediction(row: RowMapping) -> Prediction:
    actual = row["actual_value"]
    return Prediction(
        prediction_id=row["prediction_id"],
        timestamp=row["ts"],
        model_version=row["model_version"],
        environment=row["environment"],
        features=row["features"],
        predicted_value=row["predicted_value"],
        actual_value=actual,
        error=None if actual is None else row["predicted_value"] - actual,
    )


async def versions(info: Info[Any, Any], model_id: str) -> list[str]:
    """Versions seen in any environment, newest first."""
    return await context_of(info).loaders.load(model_sql.versions, None, model_id)


async def environments(info: Info[Any, Any], model_id: str) -> list[str]:
    """Environments the model has predicted in."""
    return await context_of(info).loaders.load(model_sql.environments, None, model_id)


async def model_page(
    info: Info[Any, Any], search: str | None, first: int, after: str | None
) -> Page[RowMapping]:
    """Models ordered by id, optionally matching search in the id."""
    return await catalog_page(context_of(info), MODELS, "model", search, first, after)


async def find_model(info: Info[Any, Any], model_id: str) -> RowMapping | None:
    """The model's catalog row, or None when no prediction of it was ever stored."""
    found: RowMapping | None = await find_entity(context_of(info), MODELS, model_id)
    return found


async def record_actuals(info: Info[Any, Any], actuals: Sequence[ActualInput]) -> IngestResult:
    """Set the ground truth of stored predictions; one transaction."""
    principal = require(info, APPEND)
    context = context_of(info)

    async def store(db: Database, raws: list[dict[str, Any]], clock: RowContext) -> IngestOutcome:
        kept, refused = await confine_actuals(context, principal, raws)
        outcome = await store_actuals(db, [raws[i] for i in kept], clock)
        return with_refused(outcome, kept, refused)

    return await ingest_rows(info, actuals, "actuals", "ACTUAL", store)
