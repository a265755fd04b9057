"""ingestProductEvents and the quarantine, as the contract's IngestResult defines them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import OperationalError

from db.ingest import batch
from db.tables import quarantine
from tests.factories import INGEST_PRODUCT_EVENTS, at, iso, product_event

EVENTS_QUERY = """
query($id: ID!) { product(id: $id) { events(range: {from: "2000-01-01T00:00:00Z"}) {
  totalCount nodes { eventId timestamp eventType userId sessionId durationMs errorCode
  pageLoadTimeMs apiLatencyMs isError source deviceType country properties } } } }
"""
STATS = "{ stats { productEvents products quarantined } }"
QUARANTINE = """
query($kind: IngestKind, $range: TimeRange, $first: Int, $after: String) {
  quarantine(kind: $kind, range: $range, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id kind receivedAt field message raw } } }
"""


async def ingest(gql, events, now):
    return (await gql(INGEST_PRODUCT_EVENTS, {"events": events}, now=now))["ingestProductEvents"]


async def stored_events(gql, now):
    data = await gql(EVENTS_QUERY, {"id": "shop"}, now=now)
    return {e["eventId"]: e for e in data["product"]["events"]["nodes"]} if data["product"] else {}


async def test_valid_rows_are_stored_with_every_field(gql, now):
    full = product_event(
        now - timedelta(minutes=3),
        productName="Shop",
        userId="u1",
        sessionId="s1",
        durationMs=12.5,
        errorCode="E1",
        pageLoadTimeMs=300.0,
        apiLatencyMs=40.25,
        isError=True,
        source="web",
        deviceType="mobile",
        country="de",
        properties={"plan": "pro", "items": [1, 2]},
    )
    bare = product_event(now - timedelta(minutes=2))
    result = await ingest(gql, [full, bare], now)
    assert result == {"accepted": 2, "duplicates": 0, "rejected": []}
    stored = await stored_events(gql, now)
    expected = {k: v for k, v in full.items() if k not in ("productId", "productName")}
    assert stored[full["eventId"]] == expected | {"timestamp": iso(at(full))}
    assert stored[bare["eventId"]]["durationMs"] is None
    assert stored[bare["eventId"]]["isError"] is False


@pytest.mark.parametrize(
    ("error_code", "given", "stored_code", "stored_flag"),
    [
        ("E1", None, "E1", True),
        ("", None, None, False),
        (None, None, None, False),
        ("E1", False, "E1", False),
        (None, True, None, True),
        ("", True, None, True),
    ],
)
async def test_is_error_null_is_derived_from_error_code(
    gql, now, error_code, given, stored_code, stored_flag
):
    event = product_event(now - timedelta(minutes=1), errorCode=error_code, isError=given)
    await ingest(gql, [event], now)
    stored = (await stored_events(gql, now))[event["eventId"]]
    assert (stored["errorCode"], stored["isError"]) == (stored_code, stored_flag)


async def test_duplicate_ids_in_one_batch_keep_the_first_row(gql, now):
    first = product_event(now - timedelta(minutes=5), eventType="click")
    again = dict(first, eventType="purchase")
    other = product_event(now - timedelta(minutes=4))
    result = await ingest(gql, [first, other, again, dict(first)], now)
    assert result == {"accepted": 2, "duplicates": 2, "rejected": []}
    stored = await stored_events(gql, now)
    assert stored[first["eventId"]]["eventType"] == "click"
    assert len(stored) == 2


async def test_duplicate_ids_across_batches_leave_the_stored_row_as_it_was(gql, now):
    first = product_event(now - timedelta(minutes=5), eventType="click", durationMs=1.0)
    await ingest(gql, [first], now)
    retry = [dict(first, eventType="purchase", durationMs=99.0), product_event(now)]
    result = await ingest(gql, retry, now)
    assert result == {"accepted": 1, "duplicates": 1, "rejected": []}
    stored = (await stored_events(gql, now))[first["eventId"]]
    assert (stored["eventType"], stored["durationMs"]) == ("click", 1.0)
    assert (await gql(STATS))["stats"]["productEvents"] == 2


BAD_ROWS = [
    ("durationMs", {"durationMs": -1.0}, None),
    ("pageLoadTimeMs", {"pageLoadTimeMs": -0.5}, None),
    ("apiLatencyMs", {"apiLatencyMs": -3.0}, None),
    ("productId", {"productId": ""}, None),
    ("productId", {"productId": "   "}, None),
    ("eventType", {"eventType": ""}, None),
    ("eventId", {"eventId": ""}, None),
    ("timestamp", {}, timedelta(minutes=5, seconds=1)),
]


@pytest.mark.parametrize(
    ("field", "change", "ahead"), BAD_ROWS, ids=[f"{f}-{c or a}" for f, c, a in BAD_ROWS]
)
async def test_invalid_row_is_rejected_by_index_and_field_and_not_stored(
    gql, now, field, change, ahead
):
    bad = product_event(now + ahead if ahead else now - timedelta(minutes=1), **change)
    good = product_event(now - timedelta(minutes=1))
    result = await ingest(gql, [good, bad], now)
    assert (result["accepted"], result["duplicates"]) == (1, 0)
    [rejected] = result["rejected"]
    assert (rejected["index"], rejected["field"]) == (1, field)
    assert field in rejected["message"]
    stats = (await gql(STATS, now=now))["stats"]
    assert stats == {"productEvents": 1, "products": 1, "quarantined": 1}
    assert bad["eventId"] not in await stored_events(gql, now)


async def test_timestamp_exactly_five_minutes_ahead_is_accepted(gql, now):
    result = await ingest(gql, [product_event(now + timedelta(minutes=5))], now)
    assert result["accepted"] == 1


async def test_every_row_is_counted_once_in_a_mixed_batch(gql, now):
    rows = [product_event(now - timedelta(seconds=n)) for n in range(6)]
    rows += [dict(rows[0]), product_event(now, durationMs=-2), product_event(now, eventType="")]
    result = await ingest(gql, rows, now)
    assert (result["accepted"], result["duplicates"]) == (6, 1)
    assert [r["index"] for r in result["rejected"]] == [7, 8]


async def test_batch_over_ten_thousand_rows_is_refused_and_nothing_stored(gql, now):
    rows = [
        {"eventId": f"big-{n}", "timestamp": iso(now), "productId": "p", "eventType": "t"}
        for n in range(10_001)
    ]
    result = await gql.result(INGEST_PRODUCT_EVENTS, {"events": rows}, now=now)
    [error] = result.errors
    assert error.extensions["code"] == "BAD_USER_INPUT"
    assert "10001 rows" in error.message
    assert "at most 10000" in error.message
    assert (await gql(STATS))["stats"] == {"productEvents": 0, "products": 0, "quarantined": 0}


async def test_a_failing_batch_stores_nothing_of_it(gql, now, monkeypatch):
    async def broken_quarantine(*args):
        raise OperationalError("INSERT INTO quarantine", {}, Exception("connection lost"))

    monkeypatch.setattr(batch, "quarantine_rows", broken_quarantine)
    rows = [product_event(now - timedelta(minutes=1)), product_event(now, durationMs=-1)]
    result = await gql.result(INGEST_PRODUCT_EVENTS, {"events": rows}, now=now)
    [error] = result.errors
    # A lost connection: the database is unavailable, and a retry can succeed.
    assert error.extensions["code"] == "SERVICE_UNAVAILABLE"
    assert error.extensions["retryable"] is True
    assert (await gql(STATS))["stats"] == {"productEvents": 0, "products": 0, "quarantined": 0}


async def test_rejected_rows_are_quarantined_with_their_raw_input(gql, now):
    bad = product_event(
        now - timedelta(minutes=1),
        productId="",
        durationMs=5.0,
        country="fr",
        properties={"k": [1, "two"]},
    )
    await ingest(gql, [product_event(now), bad], now)
    data = await gql(QUARANTINE, {"kind": "PRODUCT_EVENT"})
    [row] = data["quarantine"]["nodes"]
    assert (row["kind"], row["field"]) == ("PRODUCT_EVENT", "productId")
    assert "productId" in row["message"]
    assert {k: row["raw"].get(k) for k in bad} == bad
    received = datetime.fromisoformat(row["receivedAt"])
    assert abs(received - datetime.now(UTC)) < timedelta(minutes=1)


async def _quarantine_rows(db, kinds):
    async with db.write() as conn:
        await conn.execute(
            quarantine.insert(),
            [{"kind": k, "message": "bad", "raw": {"n": n}} for n, k in enumerate(kinds)],
        )


async def test_quarantine_filters_by_kind_and_counts(gql, db):
    await _quarantine_rows(db, ["PRODUCT_EVENT", "API_REQUEST", "PRODUCT_EVENT"])
    data = await gql(QUARANTINE, {"kind": "PRODUCT_EVENT"})
    assert data["quarantine"]["totalCount"] == 2
    assert [n["raw"]["n"] for n in data["quarantine"]["nodes"]] == [2, 0]
    everything = await gql(QUARANTINE, {})
    assert everything["quarantine"]["totalCount"] == 3


async def test_quarantine_range_filters_on_received_at(gql, db):
    before = datetime.now(UTC)
    await _quarantine_rows(db, ["PRODUCT_EVENT"])
    after = datetime.now(UTC) + timedelta(seconds=1)
    inside = {"from": iso(before - timedelta(seconds=1)), "to": iso(after)}
    earlier = {"from": iso(before - timedelta(hours=1)), "to": iso(before - timedelta(seconds=1))}
    assert (await gql(QUARANTINE, {"range": inside}))["quarantine"]["totalCount"] == 1
    assert (await gql(QUARANTINE, {"range": earlier}))["quarantine"]["nodes"] == []
    later = {"from": iso(after), "to": iso(after + timedelta(hours=1))}
    assert (await gql(QUARANTINE, {"range": later}))["quarantine"]["nodes"] == []


async def test_quarantine_pages_newest_first_without_gaps(gql, db):
    await _quarantine_rows(db, ["PRODUCT_EVENT"] * 3)
    await _quarantine_rows(db, ["PRODUCT_EVENT"] * 2)
    seen, after = [], None
    while True:
        page = (await gql(QUARANTINE, {"first": 2, "after": after}))["quarantine"]
        assert page["totalCount"] == 5
        seen += [int(n["id"]) for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [5, 4, 3, 2, 1]


async def test_timestamp_without_offset_is_utc_and_offsets_are_converted(gql, now):
    naive = product_event(
        now, timestamp=(now - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    )
    shifted = (now - timedelta(hours=2)).astimezone(timezone(timedelta(hours=-7)))
    offset = product_event(now, timestamp=shifted.isoformat())
    await ingest(gql, [naive, offset], now)
    stored = await stored_events(gql, now)
    assert datetime.fromisoformat(stored[naive["eventId"]]["timestamp"]) == now - timedelta(hours=1)
    assert stored[offset["eventId"]]["timestamp"] == iso(now - timedelta(hours=2))
