"""The demo data set: a few days of realistic products, endpoints and models."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from db.engine import Database
from db.ingest.batch import IngestKind, IngestOutcome, ingest_batch
from db.ingest.shape import RowContext
from gateway.demo import alerts, dashboard, endpoints, metrics, models, products
from gateway.settings import Settings

CHUNK_ROWS = 5_000
DemoSet = Callable[[Database, datetime], Awaitable[str]]
DEMO_SETS: list[DemoSet] = [
    products.load,
    models.load,
    endpoints.load,
    metrics.load,
    alerts.load,
]


async def ingest_all(
    db: Database, kind: IngestKind, rows: Sequence[dict[str, Any]], now: datetime
) -> IngestOutcome:
    """Ingest rows through the same validation as the mutations, in chunks."""
    total = IngestOutcome()
    context = RowContext(now, timedelta(minutes=5))
    for start in range(0, len(rows), CHUNK_ROWS):
        total.add(await ingest_batch(db, kind, rows[start : start + CHUNK_ROWS], context))
    return total


def describe(what: str, outcome: IngestOutcome) -> str:
    """One summary line for the console."""
    return (
        f"{what}: {outcome.accepted} stored, {outcome.duplicates} already there, "
        f"{len(outcome.rejected)} rejected"
    )


async def load_demo(url: str, settings: Settings) -> list[str]:
    """Load every demo set (idempotent within a day) and say what was stored."""
    db = Database(url, pool_size=2)
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        lines = [await load(db, now) for load in DEMO_SETS]
        return [*lines, await dashboard.save(db, settings)]
    finally:
        await db.dispose()
