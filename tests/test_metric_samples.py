"""recordMetrics: custom metric samples have no id, so every valid sample is stored."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from db.tables import metric_samples, quarantine
from tests.factories import RECORD_METRICS, iso, metric_sample


async def _stored(db):
    async with db.read() as conn:
        rows = (await conn.execute(select(metric_samples).order_by(metric_samples.c.id))).mappings()
        return [dict(r) for r in rows]


async def test_identical_samples_are_each_accepted_never_duplicates(gql, db, now):
    sample = metric_sample(timestamp=iso(now - timedelta(minutes=1)), tags={"host": "a"})
    result = await gql(RECORD_METRICS, {"samples": [sample, sample, sample]}, now=now)
    assert result["recordMetrics"] == {"accepted": 3, "duplicates": 0, "rejected": []}
    again = await gql(RECORD_METRICS, {"samples": [sample]}, now=now)
    assert again["recordMetrics"]["accepted"] == 1
    stored = await _stored(db)
    assert len(stored) == 4
    assert {(r["name"], r["type"], r["value"], r["ts"]) for r in stored} == {
        ("checkout.latency", "TIMER", 12.5, now - timedelta(minutes=1))
    }


async def test_sample_fields_are_stored_and_omitted_timestamp_is_the_request_time(gql, db, now):
    samples = [
        metric_sample(
            name="queue.depth",
            type="GAUGE",
            value=-3,
            tags={"region": "eu", "shard": 2, "canary": False, "zone": None},
            unit="jobs",
            source="worker",
        ),
        metric_sample(name="orders", type="COUNTER", value=1, tags=None),
    ]
    result = await gql(RECORD_METRICS, {"samples": samples}, now=now)
    assert result["recordMetrics"]["accepted"] == 2
    gauge, counter = await _stored(db)
    assert (gauge["name"], gauge["type"], gauge["value"], gauge["ts"]) == (
        "queue.depth",
        "GAUGE",
        -3.0,
        now,
    )
    assert gauge["tags"] == {"region": "eu", "shard": 2, "canary": False, "zone": None}
    assert (gauge["unit"], gauge["source"]) == ("jobs", "worker")
    assert counter["tags"] == {}
    assert (counter["unit"], counter["source"]) == (None, None)


async def test_bad_samples_are_rejected_with_their_field_and_quarantined(gql, db, now):
    samples = [
        metric_sample(),
        metric_sample(name="  "),
        metric_sample(timestamp=iso(now + timedelta(minutes=10))),
        metric_sample(tags=["not", "an", "object"]),
        metric_sample(tags={"nested": {"no": 1}}),
        metric_sample(name="ok.too", type="HISTOGRAM"),
    ]
    result = (await gql(RECORD_METRICS, {"samples": samples}, now=now))["recordMetrics"]
    assert result["accepted"] == 2
    assert result["duplicates"] == 0
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [
        (1, "name"),
        (2, "timestamp"),
        (3, "tags"),
        (4, "tags"),
    ]
    async with db.read() as conn:
        kept = (
            await conn.execute(
                select(quarantine.c.kind, quarantine.c.row_index, quarantine.c.raw).order_by(
                    quarantine.c.row_index
                )
            )
        ).all()
    assert [(k, i) for k, i, _ in kept] == [("METRIC_SAMPLE", n) for n in (1, 2, 3, 4)]
    assert kept[2][2]["tags"] == ["not", "an", "object"]
    assert len(await _stored(db)) == 2


async def test_an_unknown_metric_type_is_a_graphql_error_naming_the_value(gql):
    errors = await gql.errors(RECORD_METRICS, {"samples": [metric_sample(type="RATE")]})
    assert "RATE" in errors[0].message
