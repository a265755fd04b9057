"""Ingest mutations: from GraphQL input objects to one validated batch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import Enum
from typing import Any, cast

from strawberry.types import Info

from db.engine import Database
from db.ingest.batch import IngestFailed, IngestKind, IngestOutcome, RowContext, ingest_batch
from resolvers.context import GatewayContext, context_of
from resolvers.errors import GatewayError, bad_input
from schema.common import IngestResult, RejectedRow


def raw_row(value: object) -> dict[str, Any]:
    """An input row as the client wrote it, enum values unwrapped.

    Typed as its input class, it arrives as a mapping keyed by camelCase field
    names (schema.common.ingest_row).
    """
    row = cast("Mapping[str, Any]", value)
    return {name: _plain(field) for name, field in row.items()}


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


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


Store = Callable[[Database, list[dict[str, Any]], RowContext], Awaitable[IngestOutcome]]


async def ingest_rows(
    info: Info[Any, Any], rows: Sequence[Any], argument: str, store: Store
) -> IngestResult:
    """Check the batch size, store the rows in one transaction, and answer; a database
    fault is a retryable INGEST_FAILED error (nothing of the batch was stored)."""
    context = context_of(info)
    check_batch_size(context, rows, argument)
    try:
        outcome = await store(context.db, [raw_row(r) for r in rows], context.row_context())
    except IngestFailed as error:
        raise GatewayError(str(error), "INGEST_FAILED", retryable=True) from error
    return ingest_result(outcome)


async def ingest(
    info: Info[Any, Any], kind: IngestKind, rows: Sequence[Any], argument: str
) -> IngestResult:
    """Validate and store one batch of input objects of one kind."""

    async def store(db: Database, raws: list[dict[str, Any]], clock: RowContext) -> IngestOutcome:
        return await ingest_batch(db, kind, raws, clock)

    return await ingest_rows(info, rows, argument, store)
