"""The COPY writer stores exactly what the mutations' INSERT stores, and counts alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Text, cast, func, literal, select, text
from sqlalchemy.dialects.postgresql import JSONB

from db.ingest.batch import IngestFailed, check_batch, ingest_batch, store
from db.ingest.metric_samples import METRIC_SAMPLE
from db.ingest.product_events import PRODUCT_EVENT
from db.ingest.shape import RowContext
from db.tables import metadata, metric_samples, product_events, products, quarantine
from tests.factories import iso, metric_sample, product_event, product_events_mix


async def _snapshot(db):
    """Everything a batch leaves behind, without ids and receive times."""
    async with db.read() as conn:
        events = (
            await conn.execute(
                select(
                    *[c for c in product_events.c if c.name != "received_at"],
                    # JSON null and SQL NULL both read back as None: tell them apart.
                    product_events.c.properties.is_(None).label("properties_sql_null"),
                ).order_by(product_events.c.event_id)
            )
        ).all()
        catalog = (await conn.execute(select(products).order_by(products.c.id))).all()
        samples = (
            await conn.execute(
                select(*[c for c in metric_samples.c if c.name != "id"]).order_by(
                    metric_samples.c.id
                )
            )
        ).all()
        kept = (
            await conn.execute(
                select(
                    quarantine.c.kind,
                    quarantine.c.row_index,
                    quarantine.c.field,
                    quarantine.c.message,
                    quarantine.c.raw,
                ).order_by(quarantine.c.id)
            )
        ).all()
    return events, catalog, samples, kept


async def _truncate(db):
    async with db.write() as conn:
        names = ", ".join(t.name for t in metadata.sorted_tables)
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))


async def _mutation_path(db, kind, raws, context):
    return await ingest_batch(db, kind, raws, context)


async def _bulk_path(db, kind, raws, context):
    return await store(db, kind, check_batch(kind, raws, context))


@pytest.fixture
def context(now):
    return RowContext(now, timedelta(minutes=5))


async def test_bulk_and_mutation_paths_store_identical_product_rows_and_counts(db, now, context):
    stored_before = product_event(now - timedelta(hours=2), productName="Shop")
    batch = product_events_mix(now, count=40, properties={"plan": "pro", "seats": 3})
    batch[5]["properties"] = None
    batch += [
        dict(batch[3]),  # the same id again in the batch: a duplicate
        dict(stored_before),  # already stored: a duplicate
        product_event(now - timedelta(minutes=2), eventType=""),
        product_event(now + timedelta(hours=1)),
        product_event(now - timedelta(minutes=3), durationMs=-1),
        product_event(now - timedelta(minutes=4), productName="Shop 2"),
    ]
    outcomes, snapshots = [], []
    for write in (_mutation_path, _bulk_path):
        await ingest_batch(db, PRODUCT_EVENT, [stored_before], context)
        outcomes.append(await write(db, PRODUCT_EVENT, batch, context))
        snapshots.append(await _snapshot(db))
        await _truncate(db)

    by_mutation, by_bulk = outcomes
    assert (by_bulk.accepted, by_bulk.duplicates, by_bulk.rejected) == (
        by_mutation.accepted,
        by_mutation.duplicates,
        by_mutation.rejected,
    )
    assert snapshots[0] == snapshots[1]
    # And both agree with what the batch holds, counted here.
    assert by_bulk.accepted == 41
    assert by_bulk.duplicates == 2
    assert [(r.index, r.field) for r in by_bulk.rejected] == [
        (42, "eventType"),
        (43, "timestamp"),
        (44, "durationMs"),
    ]
    events, catalog, _, kept = snapshots[1]
    assert len(events) == 42
    assert [row.name for row in catalog] == ["Shop 2"]
    assert [row.row_index for row in kept] == [42, 43, 44]


async def test_bulk_and_mutation_paths_store_identical_metric_samples(db, now, context):
    batch = [
        metric_sample(timestamp=iso(now - timedelta(minutes=1)), tags={"host": "a"}),
        metric_sample(timestamp=iso(now - timedelta(minutes=1)), tags={"host": "a"}),
        metric_sample(name="", value=1),
        metric_sample(name="queue.depth", type="GAUGE", value=7, unit="jobs"),
    ]
    outcomes, snapshots = [], []
    for write in (_mutation_path, _bulk_path):
        outcomes.append(await write(db, METRIC_SAMPLE, batch, context))
        snapshots.append(await _snapshot(db))
        await _truncate(db)
    assert snapshots[0] == snapshots[1]
    assert [(o.accepted, o.duplicates, [r.index for r in o.rejected]) for o in outcomes] == [
        (3, 0, [2]),
        (3, 0, [2]),
    ]
    samples = snapshots[1][2]
    assert [(s.name, s.value, s.tags) for s in samples] == [
        ("checkout.latency", 12.5, {"host": "a"}),
        ("checkout.latency", 12.5, {"host": "a"}),
        ("queue.depth", 7.0, {}),
    ]
    assert samples[2].ts == now


async def test_a_database_fault_during_copy_stores_nothing_and_is_retryable(db, now, context):
    batch = [product_event(now - timedelta(minutes=1)), product_event(now, eventType="")]
    async with db.write() as conn:
        await conn.execute(text("ALTER TABLE product_events RENAME TO product_events_offline"))
    try:
        with pytest.raises(IngestFailed, match="nothing of it was stored"):
            await _bulk_path(db, PRODUCT_EVENT, batch, context)
    finally:
        async with db.write() as conn:
            await conn.execute(text("ALTER TABLE product_events_offline RENAME TO product_events"))
    events, catalog, _, kept = await _snapshot(db)
    assert (events, catalog, kept) == ([], [], [])
    retried = await _bulk_path(db, PRODUCT_EVENT, batch, context)
    assert (retried.accepted, len(retried.rejected)) == (1, 1)


async def test_two_bulk_writes_in_one_transaction_use_separate_staging_tables(db, now):
    from db.ingest.batch import write_checked

    context = RowContext(datetime.now(UTC), timedelta(minutes=5))
    first = [product_event(now - timedelta(minutes=1))]
    second = [product_event(now - timedelta(minutes=2)), dict(first[0])]
    async with db.write() as conn:
        one = await write_checked(conn, PRODUCT_EVENT, check_batch(PRODUCT_EVENT, first, context))
        two = await write_checked(conn, PRODUCT_EVENT, check_batch(PRODUCT_EVENT, second, context))
    assert (one.accepted, two.accepted, two.duplicates) == (1, 1, 1)


async def test_json_documents_are_stored_as_sent(db, now, context):
    """COPY writes JSON columns as text cast to jsonb: the stored document is the one
    sent; null and an absent document are the JSON null, as an INSERT of None stores."""
    documents = [
        {"plan": "pro", "seats": 3, "tags": ["a", "b"], "nested": {"x": None, "y": 1.5}},
        {"big": 2**70, "small": -(2**63), "unicode": "héllo ✓", "quote": 'a"b\\c'},
        [1, "two", {"3": [True, False]}],
        "just text",
        7.25,
        None,
    ]
    rows = [
        product_event(now - timedelta(minutes=n + 1), eventId=f"doc-{n}", properties=document)
        for n, document in enumerate(documents)
    ]
    rows.append(product_event(now - timedelta(minutes=30), eventId="doc-absent"))
    outcome = await ingest_batch(db, PRODUCT_EVENT, rows, context)
    assert outcome.accepted == len(rows)
    async with db.read() as conn:
        for n, document in enumerate(documents):
            same = await conn.scalar(
                select(
                    product_events.c.properties == cast(literal(json.dumps(document), Text), JSONB)
                ).where(product_events.c.event_id == f"doc-{n}")
            )
            assert same, document
        kinds = await conn.execute(
            select(product_events.c.event_id, func.jsonb_typeof(product_events.c.properties)).where(
                product_events.c.event_id.in_(["doc-5", "doc-absent"])
            )
        )
        assert dict(kinds.all()) == {"doc-5": "null", "doc-absent": "null"}


async def test_the_writer_tallies_what_it_inserted_per_entity(db, now):
    """The writer returns a row per entity of the rows it inserted (duplicates left
    out): how many, their first and last time, and a product's newest name, of
    events at the same time the greatest eventId's."""
    from db.ingest.batch import write_checked
    from db.ingest.bulk import copy_insert

    context = RowContext(datetime.now(UTC), timedelta(minutes=5))
    tie = now - timedelta(minutes=3)
    stored = product_event(now - timedelta(minutes=50), productId="b", productName="old")
    rows = [
        product_event(now - timedelta(minutes=40), productId="a", eventId="a-1", productName="A1"),
        product_event(tie, productId="a", eventId="a-3", productName="A3"),
        product_event(tie, productId="a", eventId="a-9", productName="A9"),
        product_event(tie, productId="a", eventId="a-5", productName="A5"),
        product_event(now - timedelta(minutes=1), productId="a", eventId="a-0"),
        product_event(now - timedelta(minutes=20), productId="b"),
        dict(stored),
    ]
    async with db.write() as conn:
        await write_checked(conn, PRODUCT_EVENT, check_batch(PRODUCT_EVENT, [stored], context))
        checked = check_batch(PRODUCT_EVENT, rows, context)
        tally = await copy_insert(
            conn,
            PRODUCT_EVENT.table,
            checked.columns,
            ("product_id", "event_id", "ts"),
            PRODUCT_EVENT.tally,
        )
    expected: dict[str, dict] = {}
    for row in rows[:-1]:  # the last one was stored before: a duplicate
        at = datetime.fromisoformat(row["timestamp"])
        entry = expected.setdefault(
            row["productId"], {"rows": 0, "first_seen": at, "last_seen": at, "named": []}
        )
        entry["rows"] += 1
        entry["first_seen"], entry["last_seen"] = (
            min(entry["first_seen"], at),
            max(entry["last_seen"], at),
        )
        if row.get("productName"):
            entry["named"].append((at, row["eventId"], row["productName"]))
    got = {r["product_id"]: r for r in tally}
    assert set(got) == set(expected)
    for product, entry in expected.items():
        newest = max(entry["named"], default=(None, None, None))
        assert got[product]["rows"] == entry["rows"]
        assert (got[product]["first_seen"], got[product]["last_seen"]) == (
            entry["first_seen"],
            entry["last_seen"],
        )
        assert (got[product]["name_seen_at"], got[product]["name"]) == (newest[0], newest[2])
    assert got["a"]["name"] == "A9"
