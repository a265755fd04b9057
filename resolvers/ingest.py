"""Ingest mutations: from GraphQL input objects to one validated batch."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy.exc import DataError, IntegrityError
from strawberry.types import Info

from db.engine import Database
from db.ingest.batch import IngestFailed, IngestKind, IngestOutcome, Rejection, ingest_batch
from db.ingest.fields import RowError, unstorable
from db.ingest.shape import RowContext
from db.models import prediction_models
from gateway import telemetry
from resolvers.access import APPEND, Principal, require, write_refusal
from resolvers.context import GatewayContext, context_of
from resolvers.errors import GatewayError, bad_input, is_unavailable, unavailable
from schema.common import IngestResult, RejectedRow

# The field of each kind's rows that names the resource it writes to.
RESOURCE_FIELDS = {
    "PRODUCT_EVENT": ("productId", "product"),
    "API_REQUEST": ("endpoint", "endpoint"),
    "PREDICTION": ("modelId", "model"),
    "METRIC_SAMPLE": ("name", "metric"),
}


def check_batch_size(context: GatewayContext, rows: Sequence[Any], argument: str) -> None:
    """Refuse a batch larger than GATEWAY_MAX_BATCH_ROWS before touching anything."""
    limit = context.settings.max_batch_rows
    if len(rows) > limit:
        raise bad_input(
            f"{argument} has {len(rows)} rows; at most {limit} are accepted per call "
            "(split the batch; ids make retries safe)",
            argument,
        )


def ingest_result(outcome: IngestOutcome) -> IngestResult:
    """The GraphQL shape of an ingest outcome."""
    return IngestResult(
        accepted=outcome.accepted,
        duplicates=outcome.duplicates,
        rejected=[
            RejectedRow(index=r.index, field=r.field, message=r.message) for r in outcome.rejected
        ],
    )


def ingest_failure(error: IngestFailed) -> GatewayError:
    """The client's error for a batch the database did not store: SERVICE_UNAVAILABLE
    when it could not answer; retryable unless it refused the data itself (that
    would fail again)."""
    if is_unavailable(error.__cause__):
        return unavailable()
    refused_data = isinstance(error.__cause__, DataError | IntegrityError)
    return GatewayError(str(error), "INGEST_FAILED", retryable=not refused_data)


def guarded(kind: IngestKind, principal: Principal) -> IngestKind:
    """kind whose rows are first screened for what the database cannot store and, for
    a confined token, for resources it may not write (each a per-row rejection)."""
    resource_field, what = RESOURCE_FIELDS.get(kind.kind, (None, ""))

    def screen(raw: Mapping[str, Any]) -> None:
        for field, value in raw.items():
            if (problem := unstorable(value)) is not None:
                raise RowError(field, f"{field} {problem}")
        target = raw.get(resource_field) if resource_field else None
        if isinstance(target, str) and (refusal := write_refusal(principal, target, what)):
            raise RowError(resource_field, refusal)

    return dataclasses.replace(kind, screen=screen)


Store = Callable[[Database, list[dict[str, Any]], RowContext], Awaitable[IngestOutcome]]


async def ingest_rows(
    info: Info[Any, Any], rows: Sequence[Any], argument: str, kind: str, store: Store
) -> IngestResult:
    """Check the batch size, store the rows in one transaction, and answer; a database
    fault is an INGEST_FAILED or SERVICE_UNAVAILABLE error (nothing was stored)."""
    context = context_of(info)
    check_batch_size(context, rows, argument)
    try:
        outcome = await store(
            context.db, cast("list[dict[str, Any]]", list(rows)), context.row_context()
        )
    except IngestFailed as error:
        raise ingest_failure(error) from error
    telemetry.ingested(kind, outcome.accepted, outcome.duplicates, len(outcome.rejected))
    return ingest_result(outcome)


async def ingest(
    info: Info[Any, Any], kind: IngestKind, rows: Sequence[Any], argument: str
) -> IngestResult:
    """Validate and store one batch of input objects of one kind (APPEND scope)."""
    allowed = guarded(kind, require(info, APPEND))

    async def store(db: Database, raws: list[dict[str, Any]], clock: RowContext) -> IngestOutcome:
        return await ingest_batch(db, allowed, raws, clock)

    return await ingest_rows(info, rows, argument, kind.kind, store)


async def confine_actuals(
    context: GatewayContext, principal: Principal, raws: Sequence[Mapping[str, Any]]
) -> tuple[list[int], list[Rejection]]:
    """Which actuals a token may record (indexes kept), and a rejection for each one
    whose prediction belongs to a model it may not write (as if it were not stored)."""
    if principal.resource_ids is None:
        return list(range(len(raws))), []
    ids = [r["predictionId"] for r in raws if isinstance(r.get("predictionId"), str)]
    async with context.db.read() as conn:
        owners = await prediction_models(conn, ids)
    kept: list[int] = []
    refused: list[Rejection] = []
    for index, raw in enumerate(raws):
        owner = owners.get(raw.get("predictionId"))  # type: ignore[arg-type]
        if owner is not None and not principal.sees(owner):
            message = f"this token may not write to model {owner!r}"
            refused.append(Rejection(index, "predictionId", message))
        else:
            kept.append(index)
    return kept, refused


def with_refused(
    outcome: IngestOutcome, kept: Sequence[int], refused: list[Rejection]
) -> IngestOutcome:
    """outcome (of the kept rows only) in the indexes of the whole batch, refusals added."""
    rejected = [Rejection(kept[r.index], r.field, r.message) for r in outcome.rejected]
    outcome.rejected = sorted(rejected + refused, key=lambda r: r.index)
    return outcome
