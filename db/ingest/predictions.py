"""Model predictions and their ground truth: validation, storage, model registration.

Predictions go through the shared batch path (idempotent on the identity
model, predictionId, timestamp). Actuals update stored predictions in one
statement that also reports, from the same snapshot, which ids were known and
what they held before, so every submitted actual is counted as accepted,
duplicate or rejected (contract). An actual addresses a predictionId alone:
when several stored predictions share it (other models or timestamps), it
applies to every one of them and is counted once; it is a duplicate only if
all of them already held that value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Text, and_, bindparam, case, column, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from db.engine import Database
from db.facts.predictions import PREDICTIONS
from db.ingest.batch import (
    IngestKind,
    IngestOutcome,
    Rejection,
    quarantine_rows,
    refusals,
)
from db.ingest.bulk import Tally
from db.ingest.entities import Span, spans, widen
from db.ingest.fields import RowError, number, required_text
from db.ingest.shape import RowContext, Shape, document, moment, number_field, text, text_or
from db.rolled import changed as rolled_changes
from db.rolled import source_columns
from db.tables import model_versions, models, predictions

DEFAULT_ENVIRONMENT = "production"


def _actual_at(clean: dict[str, list[Any]], context: RowContext) -> None:
    """A prediction sent with its actual value has it from the server's now."""
    now = context.now
    clean["actual_at"] = [None if a is None else now for a in clean["actual_value"]]


PREDICTION_SHAPE = Shape(
    (
        text_or("environment", "environment", DEFAULT_ENVIRONMENT),
        number_field("actualValue", "actual_value"),
        text("predictionId", "prediction_id", required=True),
        moment("timestamp", "ts"),
        text("modelId", "model_id", required=True),
        text("modelVersion", "model_version", required=True),
        document("features", "features"),
        number_field("predictedValue", "predicted_value", required=True),
    ),
    _actual_at,
)


async def register_models(conn: AsyncConnection, tally: Sequence[RowMapping]) -> None:
    """Create or widen the models and (model, environment, version) rows just predicted
    (the tally has a row per version)."""
    found: dict[tuple[str, ...], Span] = spans(
        (key, row["first_seen"], row["last_seen"])
        for row in tally
        for key in (
            (row["model_id"],),
            (row["model_id"], row["environment"], row["model_version"]),
        )
    )
    model_rows = [{"id": k[0], **v} for k, v in found.items() if len(k) == 1]
    version_rows = [
        {"model_id": k[0], "environment": k[1], "version": k[2], **v}
        for k, v in found.items()
        if len(k) == 3
    ]
    await widen(conn, models, ("id",), model_rows)
    await widen(conn, model_versions, ("model_id", "environment", "version"), version_rows)


PREDICTION = IngestKind(
    kind="PREDICTION",
    table=predictions,
    id_column="prediction_id",
    shape=PREDICTION_SHAPE,
    tally=Tally(("model_id", "environment", "model_version")),
    register=register_models,
    fact=PREDICTIONS,
)


# A prediction's rollup rows move with its actual (db.rolled.changed): the UPDATE
# returns what the rollups read, and the identity finds the row as it was.
_IDENTITY = ("model_id", "prediction_id", "ts")
_ROLLED_AND_IDENTITY = tuple(dict.fromkeys([*_IDENTITY, *source_columns(PREDICTIONS)]))


@dataclass(frozen=True)
class _Actual:
    index: int
    prediction_id: str
    value: float | None  # never None: the reader requires it


@dataclass(frozen=True)
class _Stored:
    known: bool
    value: float | None


async def _apply_actuals(
    conn: AsyncConnection, final: Mapping[str, float | None], now: datetime
) -> dict[str, _Stored]:
    """Set each prediction's actual to its final submitted value; report what was there.

    The UPDATE runs as a data-modifying CTE, so the outer SELECT still sees
    the rows as they were before it (one snapshot for the whole statement).
    """
    submitted = select(
        func.unnest(
            bindparam("ids", list(final), type_=ARRAY(Text)),
            bindparam("values", list(final.values()), type_=ARRAY(Float)),
        )
        .table_valued(column("prediction_id", Text), column("actual_value", Float))
        .render_derived()
    ).cte("submitted")
    changed = (
        update(predictions)
        .where(
            predictions.c.prediction_id == submitted.c.prediction_id,
            predictions.c.actual_value.is_distinct_from(submitted.c.actual_value),
        )
        .values(actual_value=submitted.c.actual_value, actual_at=now)
        .returning(*[predictions.c[name] for name in _ROLLED_AND_IDENTITY])
        .cte("changed")
    )
    # The changed rows as they were: the statement's snapshot is from before the UPDATE.
    held = (
        select(*[predictions.c[name] for name in _ROLLED_AND_IDENTITY])
        .join(changed, and_(*(predictions.c[n] == changed.c[n] for n in _IDENTITY)))
        .cte("held")
    )
    moves = rolled_changes(PREDICTIONS, held, changed)
    moved = [move.cte(f"rollup_{n}") for n, move in enumerate(moves)]
    before = predictions.c.actual_value
    # Copies that disagree hold no single value before: the actual is new to them.
    uniform = func.count(predictions.c.prediction_id) == func.count(before)
    uniform = uniform & (func.min(before) == func.max(before))
    statement = (
        select(
            submitted.c.prediction_id,
            (func.count(predictions.c.prediction_id) > 0).label("known"),
            case((uniform, func.min(before))).label("before"),
        )
        .select_from(
            submitted.outerjoin(
                predictions, predictions.c.prediction_id == submitted.c.prediction_id
            )
        )
        .group_by(submitted.c.prediction_id)
        .add_cte(changed, *moved)
    )
    rows = (await conn.execute(statement)).mappings()
    return {row["prediction_id"]: _Stored(row["known"], row["before"]) for row in rows}


def _check_actuals(
    raws: Sequence[Mapping[str, Any]],
) -> tuple[list[_Actual], list[Rejection]]:
    checked: list[_Actual] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(raws):
        try:
            prediction_id = required_text(raw, "predictionId")
            checked.append(_Actual(index, prediction_id, number(raw, "actualValue", required=True)))
        except RowError as error:
            rejected.append(Rejection(index, error.field, error.message))
    return checked, rejected


def _count_actuals(
    checked: Sequence[_Actual], stored: Mapping[str, _Stored], outcome: IngestOutcome
) -> None:
    """Count rows as if applied one by one: equal to the value before it is a duplicate."""
    current = {pid: s.value for pid, s in stored.items()}
    for actual in checked:
        if not stored[actual.prediction_id].known:
            message = f"no prediction with predictionId {actual.prediction_id!r} is stored"
            outcome.rejected.append(Rejection(actual.index, "predictionId", message))
        elif current[actual.prediction_id] == actual.value:
            outcome.duplicates += 1
        else:
            outcome.accepted += 1
            current[actual.prediction_id] = actual.value


async def record_actuals(
    db: Database, raws: Sequence[Mapping[str, Any]], context: RowContext
) -> IngestOutcome:
    """Set the ground truth of stored predictions in one transaction; quarantine the rest."""
    checked, invalid = _check_actuals(raws)
    final = {actual.prediction_id: actual.value for actual in checked}
    outcome = IngestOutcome(rejected=list(invalid))
    async with refusals("actuals"), db.write() as conn:
        stored = await _apply_actuals(conn, final, context.now) if final else {}
        _count_actuals(checked, stored, outcome)
        outcome.rejected.sort(key=lambda r: r.index)
        await quarantine_rows(
            conn, "ACTUAL", outcome.rejected, [raws[r.index] for r in outcome.rejected]
        )
    return outcome
