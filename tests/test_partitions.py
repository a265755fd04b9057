"""Identity, partitions, retention, exact stats, and the keys that keep the schema distributable."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table, func, select, text

from db.facts.all import FACTS
from db.facts.product_events import PRODUCT_EVENTS
from db.ingest.batch import ingest_batch
from db.ingest.product_events import PRODUCT_EVENT
from db.ingest.shape import RowContext
from db.partitions import day_of, ensure_partitions, partition_name, partitions_of
from db.retention import drop_expired_raw, drop_expired_rollups
from db.tables import product_events
from gateway.maintenance import DAYS_AHEAD, maintain
from tests.factories import (
    INGEST_PREDICTIONS,
    RECORD_ACTUALS,
    at,
    prediction,
    product_event,
)

STATS = "{ stats { productEvents apiRequests predictions } }"


def _hourly() -> Table:
    assert PRODUCT_EVENTS.rollup is not None
    [table] = [g.table for g in PRODUCT_EVENTS.rollup.grains if g.unit == "hour"]
    return table


def _context(now: datetime) -> RowContext:
    return RowContext(now, timedelta(minutes=5))


async def _stored_events(db) -> list[tuple[str, str, datetime]]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(product_events.c.product_id, product_events.c.event_id, product_events.c.ts)
        )
        return sorted(tuple(row) for row in rows)


async def test_a_row_is_its_entity_id_and_timestamp(db, now):
    first = product_event(now - timedelta(hours=1), eventId="e-1", productId="shop")
    other_product = {**first, "productId": "blog"}
    other_time = {**first, "timestamp": (now - timedelta(hours=2)).isoformat()}
    outcome = await ingest_batch(db, PRODUCT_EVENT, [first, other_product, first], _context(now))
    assert (outcome.accepted, outcome.duplicates) == (2, 1)
    again = await ingest_batch(db, PRODUCT_EVENT, [other_time, first], _context(now))
    assert (again.accepted, again.duplicates) == (1, 1)
    assert len(await _stored_events(db)) == 3


async def test_a_retried_batch_across_a_partition_boundary_stores_nothing_twice(db, gql, now):
    midnight = now.replace(hour=0, minute=0, second=0)
    async with db.write() as conn:  # the day before midnight gets a partition, today does not
        await ensure_partitions(conn, (midnight - timedelta(days=1)).date(), midnight.date())
        await conn.execute(
            text(f'DROP TABLE IF EXISTS "{partition_name(product_events, midnight.date())}"')
        )
    batch = [
        product_event(midnight - timedelta(seconds=s), productId=f"p{s % 3}") for s in range(1, 6)
    ]
    batch += [product_event(midnight + timedelta(seconds=s)) for s in range(0, 5)]
    first = await ingest_batch(db, PRODUCT_EVENT, batch, _context(now))
    retried = await ingest_batch(db, PRODUCT_EVENT, batch, _context(now))
    assert (first.accepted, first.duplicates) == (10, 0)
    assert (retried.accepted, retried.duplicates) == (0, 10)
    stored = await _stored_events(db)
    assert stored == sorted(
        (row["productId"], row["eventId"], datetime.fromisoformat(row["timestamp"]))
        for row in batch
    )
    assert (await gql(STATS))["stats"]["productEvents"] == 10


async def test_retention_drops_old_partitions_and_default_rows_and_nothing_else(db, gql, now):
    today = now.date()
    async with db.write() as conn:
        await ensure_partitions(conn, today - timedelta(days=4), today - timedelta(days=2))
    moments = [now - timedelta(days=d, hours=1) for d in range(0, 7)]  # days 5-6 land in DEFAULT
    rows = [product_event(moment, productId="shop") for moment in moments]
    await ingest_batch(db, PRODUCT_EVENT, rows, _context(now))
    keep_from = today - timedelta(days=3)
    kept = sorted(
        r["eventId"] for r, moment in zip(rows, moments, strict=True) if moment.date() >= keep_from
    )
    async with db.write() as conn:
        before = set(await partitions_of(conn, product_events))
        report = await drop_expired_raw(conn, now, raw_days=3)
        after = set(await partitions_of(conn, product_events))
    old = {name for name in before if (day_of(name) or keep_from) < keep_from}
    assert partition_name(product_events, today - timedelta(days=4)) in old
    ours = {name for name in report.dropped_partitions if name.startswith("product_events")}
    assert ours == old == before - after
    assert report.raw_rows == len(rows) - len(kept)
    assert sorted(event_id for _, event_id, _ in await _stored_events(db)) == kept
    assert (await gql(STATS))["stats"]["productEvents"] == len(kept)
    hourly = _hourly()
    async with db.write() as conn:  # rollups outlive the raw rows until their own retention
        hours = select(func.count()).select_from(hourly).where(hourly.c.dimension == "")
        assert (await conn.execute(hours)).scalar_one() == len(rows)
        removed = await drop_expired_rollups(conn, now, rollup_days=5)
        assert (await conn.execute(hours)).scalar_one() == sum(
            1 for moment in moments if moment.date() >= today - timedelta(days=5)
        )
    assert removed > 0


async def test_an_actual_applies_to_every_stored_prediction_sharing_its_id(gql, now):
    twins = [
        prediction(now - timedelta(hours=1), 10.0, predictionId="shared", modelId="eta"),
        prediction(now - timedelta(hours=2), 20.0, predictionId="shared", modelId="eta"),
        prediction(now - timedelta(hours=1), 30.0, predictionId="shared", modelId="fare"),
    ]
    stored = (await gql(INGEST_PREDICTIONS, {"predictions": twins}, now=now))["ingestPredictions"]
    assert stored["accepted"] == 3
    actual = {"actuals": [{"predictionId": "shared", "actualValue": 12.0}]}
    first = (await gql(RECORD_ACTUALS, actual, now=now))["recordActuals"]
    again = (await gql(RECORD_ACTUALS, actual, now=now))["recordActuals"]
    assert (first["accepted"], first["duplicates"]) == (1, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    doc = '{ model(id: "%s") { performance { labeledCount } } }'
    for model, labeled in (("eta", 2), ("fare", 1)):
        data = await gql(doc % model, now=now)
        assert data["model"]["performance"]["labeledCount"] == labeled


_UNIQUE_KEYS = text(
    "SELECT t.relname, t.relkind, array_agg(a.attname::text) "
    "FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
    "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey) "
    "WHERE i.indisunique AND t.relname = ANY(:names) GROUP BY t.relname, t.relkind, i.indexrelid"
)


_FIRST_INDEX_COLUMNS = text(
    "SELECT t.relname, a.attname::text FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
    "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0] "
    "WHERE t.relname = ANY(:names)"
)


async def test_every_unique_key_of_facts_and_rollups_holds_the_entity_citus_rule(db):
    """Fact tables are keyed by (entity, id, ts); rollup tables are appended to and
    have no unique key, and each of their indexes leads with the entity."""
    facts = {fact.entity.table.name: fact for fact in FACTS}
    rollups = [
        grain.table for fact in FACTS if fact.rollup is not None for grain in fact.rollup.grains
    ]
    async with db.read() as conn:
        keys = await conn.execute(_UNIQUE_KEYS, {"names": [*facts, *(t.name for t in rollups)]})
        unique = {name: (kind, set(columns)) for name, kind, columns in keys.all()}
        leading = await conn.execute(_FIRST_INDEX_COLUMNS, {"names": [t.name for t in rollups]})
        first_columns = leading.all()
    assert set(unique) == set(facts)
    for name, (kind, columns) in unique.items():
        assert kind == "p", name  # partitioned
        assert {facts[name].entity.name, facts[name].time.name} <= columns, (name, columns)
    assert {name for name, _ in first_columns} == {t.name for t in rollups}
    assert {column for _, column in first_columns} == {"entity"}


async def test_maintenance_creates_partitions_ahead_and_keeps_rollups_as_long_as_raw_rows(
    db, settings, now
):
    old = [product_event(now - timedelta(days=d, hours=1)) for d in range(4)]
    await ingest_batch(db, PRODUCT_EVENT, old, _context(now))
    shorter = settings.model_copy(update={"retention_days": 2, "rollup_retention_days": 1})
    report = await maintain(db, shorter, now)
    async with db.read() as conn:
        names = set(await partitions_of(conn, product_events))
        hourly = _hourly()
        hours = select(hourly.c.bucket).where(hourly.c.dimension == "")
        buckets = list((await conn.execute(hours)).scalars())
    today = now.date()
    assert partition_name(product_events, today + timedelta(days=DAYS_AHEAD)) in names
    kept_from = today - timedelta(days=2)
    assert report.raw_rows == sum(1 for r in old if at(r).date() < kept_from)
    assert sorted(b.date() for b in buckets) == sorted(
        at(r).date() for r in old if at(r).date() >= kept_from
    )
