"""`load` reads NDJSON and API-log CSV, keeps good lines, and names bad ones by line."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from db.ingest.batch import CheckedBatch, Rejection
from db.tables import api_requests, metric_samples, product_events, quarantine
from gateway import load as loader
from gateway.load import load_file, plan
from gateway.load_formats import BadLine, ColumnBlock, LoadError, api_log_lines
from tests.factories import iso, metric_sample, ndjson, product_event

TOLERANCE = timedelta(minutes=5)
CSV_HEADER = (
    "request_id,api_name,TIMESTAMP,latency_ms,status_Code,document_type,region,"
    "device_type,error_reason\n"
)


async def _count(db, table):
    async with db.read() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def _quarantined(db):
    async with db.read() as conn:
        statement = select(quarantine.c.kind, quarantine.c.row_index, quarantine.c.field)
        return (await conn.execute(statement.order_by(quarantine.c.row_index))).all()


def _write(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(body)
    return path


async def test_ndjson_load_keeps_good_lines_and_names_bad_ones_by_line_number(db, now, tmp_path):
    good = [product_event(now - timedelta(minutes=n)) for n in range(1, 5)]
    lines = [
        good[0],  # 1
        good[1],  # 2
        "",  # 3: blank, skipped
        "{not json",  # 4
        '["an", "array"]',  # 5
        dict(good[0]),  # 6: duplicate id
        product_event(now, eventType=""),  # 7
        good[2],  # 8
        product_event(now - timedelta(minutes=1), durationMs="slow"),  # 9
        good[3],  # 10
    ]
    path = _write(tmp_path, "events.ndjson", ndjson(lines))
    summary = await load_file(db, plan(path, "product-events", "ndjson"), TOLERANCE)

    assert (summary.accepted, summary.duplicates, summary.rejected) == (4, 1, 4)
    shown = [(r.index, r.field) for r in summary.first_rejections]
    assert shown == [(4, None), (5, None), (7, "eventType"), (9, "durationMs")]
    assert await _count(db, product_events) == 4
    assert await _quarantined(db) == [("PRODUCT_EVENT", n, f) for n, f in shown]


async def test_loading_a_file_twice_stores_nothing_new(db, now, tmp_path):
    rows = [product_event(now - timedelta(minutes=n)) for n in range(1, 8)]
    path = _write(tmp_path, "events.ndjson", ndjson(rows))
    first = await load_file(db, plan(path, "product-events", "ndjson"), TOLERANCE)
    second = await load_file(db, plan(path, "product-events", "ndjson"), TOLERANCE)
    assert (first.accepted, first.duplicates) == (7, 0)
    assert (second.accepted, second.duplicates) == (0, 7)
    assert await _count(db, product_events) == 7


async def test_chunks_keep_line_numbers_and_catch_duplicates_across_chunks(
    db, now, tmp_path, monkeypatch
):
    monkeypatch.setattr(loader, "CHUNK_ROWS", 3)
    rows = [product_event(now - timedelta(minutes=n)) for n in range(1, 9)]
    rows[6] = dict(rows[1])  # line 7 repeats line 2, two chunks later
    rows[7] = product_event(now, productId="")  # line 8, in the third chunk
    path = _write(tmp_path, "events.ndjson", ndjson(rows))
    progress: list[int] = []
    summary = await load_file(
        db,
        plan(path, "product-events", "ndjson"),
        TOLERANCE,
        lambda done, rows: progress.append(done),
    )
    assert (summary.accepted, summary.duplicates, summary.rejected) == (6, 1, 1)
    assert [(r.index, r.field) for r in summary.first_rejections] == [(8, "productId")]
    assert progress[-1] == path.stat().st_size
    assert progress == sorted(progress)
    assert len(progress) == 3


async def test_ndjson_metric_samples_load_every_valid_line(db, now, tmp_path):
    rows = [metric_sample(timestamp=iso(now - timedelta(seconds=n))) for n in range(5)]
    rows.append(metric_sample(type="RATE"))
    path = _write(tmp_path, "metrics.ndjson", ndjson(rows + rows[:2]))
    summary = await load_file(db, plan(path, "metrics", "ndjson"), TOLERANCE)
    assert (summary.accepted, summary.duplicates, summary.rejected) == (7, 0, 1)
    assert [(r.index, r.field) for r in summary.first_rejections] == [(6, "type")]
    assert await _count(db, metric_samples) == 7


async def test_every_bad_line_is_counted_but_only_the_first_five_are_shown(db, now, tmp_path):
    lines = ["[1]"] * 8 + [product_event(now - timedelta(minutes=1))]
    path = _write(tmp_path, "events.ndjson", ndjson(lines))
    summary = await load_file(db, plan(path, "product-events", "ndjson"), TOLERANCE)
    assert (summary.accepted, summary.rejected) == (1, 8)
    described = loader.describe(summary)
    assert "9 rows" in described[0]
    assert "1 accepted" in described[0]
    assert "8 rejected" in described[0]
    assert described[-5:] == [f"  line {n}: expected a JSON object, got list" for n in range(1, 6)]
    assert len(await _quarantined(db)) == 8


def test_api_log_csv_maps_columns_and_rejects_bad_lines_by_line_number():
    body = CSV_HEADER + (
        "r1,/api/pay,2026-01-02 10:00:00,12.5,200,invoice,eu,mobile,\n"  # 2
        "r2,/api/pay,2026-01-02T10:00:01Z,7,503,,,,timeout\n"  # 3
        "r3,/api/pay,2026-01-02 10:00:02,12\n"  # 4: too few columns
        "\n"  # 5: blank
        "r4,/api/pay,2026-01-02 10:00:03,fast,200,,,,\n"  # 6
        'r5,"/api/a,b",2026-01-02 10:00:04,1,OK,,,,\n'  # 7: quoted comma, bad status
    )
    parsed = list(api_log_lines(io.BytesIO(body.encode())))
    assert [n for n, _ in parsed] == [2, 3, 4, 6, 7]
    first, second, short, slow, status = (row for _, row in parsed)
    assert first == {
        "requestId": "r1",
        "endpoint": "/api/pay",
        "timestamp": "2026-01-02 10:00:00",
        "statusCode": 200,
        "latencyMs": 12.5,
        "documentType": "invoice",
        "region": "eu",
        "deviceType": "mobile",
        "errorReason": None,
    }
    assert (second["statusCode"], second["latencyMs"], second["errorReason"]) == (503, 7, "timeout")
    assert isinstance(short, BadLine)
    assert short.message == "expected 9 columns, got 4"
    assert isinstance(slow, BadLine)
    assert slow.field == "latencyMs"
    assert isinstance(status, BadLine)
    assert status.field == "statusCode"
    assert status.raw["api_name"] == "/api/a,b"


def test_api_log_csv_with_another_header_is_refused_before_any_row():
    body = "id,name,when\nr1,/api,2026-01-02 10:00:00\n"
    with pytest.raises(LoadError, match="request_id,api_name,timestamp"):
        list(api_log_lines(io.BytesIO(body.encode())))


def test_unknown_kind_format_or_missing_file_is_a_load_error(tmp_path):
    path = _write(tmp_path, "x.ndjson", "{}\n")
    with pytest.raises(LoadError, match="unknown kind 'users'"):
        plan(path, "users", "ndjson")
    with pytest.raises(LoadError, match="unknown format 'xml'"):
        plan(path, "product-events", "xml")
    with pytest.raises(LoadError, match="--kind is required"):
        plan(path, None, "ndjson")
    with pytest.raises(LoadError, match="cannot read"):
        plan(tmp_path / "missing.ndjson", "product-events", "ndjson")


async def test_api_log_csv_loads_good_lines_despite_bad_ones(db, now, tmp_path):
    plain = (now - timedelta(minutes=3)).strftime("%Y-%m-%d %H:%M:%S")
    body = CSV_HEADER + (
        f"r1,/api/pay,{plain},12.5,200,invoice,eu,mobile,\n"  # 2
        f"r2,/api/pay,{iso(now - timedelta(minutes=2))},30,500,,us,,timeout\n"  # 3
        f"r3,/api/pay,{plain},12\n"  # 4: wrong column count
        "r4,/api/pay,yesterday,12,200,,,,\n"  # 5: unparseable timestamp
        f"r5,/api/pay,{plain},fast,200,,,,\n"  # 6: non-numeric latency
        f"r6,/api/search,{plain},4,200,,,,\n"  # 7
    )
    path = _write(tmp_path, "requests.csv", body)
    summary = await load_file(db, plan(path, None, "api-logs-csv"), TOLERANCE)
    assert (summary.accepted, summary.duplicates, summary.rejected) == (3, 0, 3)
    shown = [(r.index, r.field) for r in summary.first_rejections]
    assert shown == [(4, None), (5, "timestamp"), (6, "latencyMs")]
    async with db.read() as conn:
        stored = (
            await conn.execute(
                select(api_requests.c.request_id, api_requests.c.latency_ms).order_by(
                    api_requests.c.request_id
                )
            )
        ).all()
    assert stored == [("r1", 12.5), ("r2", 30.0), ("r6", 4.0)]
    assert await _quarantined(db) == [("API_REQUEST", n, f) for n, f in shown]


async def test_column_blocks_and_line_blocks_reject_and_quarantine_alike(
    db, now, tmp_path, monkeypatch
):
    """A chunk whose every line is an object of the kind's fields is decoded into
    columns; any other chunk line by line. Both number and quarantine bad rows the
    same way, with the object the line held."""
    monkeypatch.setattr(loader, "CHUNK_ROWS", 4)
    bad_value = product_event(now, durationMs=-1)
    unknown_field = product_event(now, colour="red")  # read line by line, the key ignored
    lines = [
        product_event(now - timedelta(minutes=1)),  # 1, chunk 1: columns
        bad_value,  # 2
        product_event(now - timedelta(minutes=2)),  # 3
        product_event(now - timedelta(minutes=3)),  # 4
        unknown_field,  # 5, chunk 2: line by line
        dict(bad_value, eventId="again"),  # 6
        product_event(now - timedelta(minutes=4)),  # 7
        product_event(now - timedelta(minutes=5)),  # 8
    ]
    path = _write(tmp_path, "events.ndjson", ndjson(lines))
    with path.open("rb") as handle:
        blocks = list(loader.ndjson_chunks(handle, loader.KINDS["product-events"]))
    assert [isinstance(block, ColumnBlock) for block in blocks] == [True, False]
    summary = await load_file(db, plan(path, "product-events", "ndjson"), TOLERANCE)
    assert (summary.accepted, summary.rejected) == (6, 2)
    assert [(r.index, r.field) for r in summary.first_rejections] == [
        (2, "durationMs"),
        (6, "durationMs"),
    ]
    async with db.read() as conn:
        kept = (
            (await conn.execute(select(quarantine.c.raw).order_by(quarantine.c.row_index)))
            .scalars()
            .all()
        )
    assert kept == [bad_value, dict(bad_value, eventId="again")]


def test_a_segment_is_a_quarter_of_the_file_within_bounds():
    """Segments of about a quarter of the file's rows (as its first chunk's bytes per
    row tell), never fewer than MIN_SEGMENT_ROWS nor more than SEGMENT_ROWS."""
    checked = CheckedBatch(columns={"event_id": ["x"] * 800})
    checked.rejected = [Rejection(n, None, "bad") for n in range(200)]
    first = loader._Chunk(checked, first_line=1, read_to=250_000)  # 250 bytes a row
    for rows, expected in [
        (1_000_000, loader.MIN_SEGMENT_ROWS),
        (4_000_000, 1_000_000),
        (6_000_000, 1_500_000),
        (10_000_000, loader.SEGMENT_ROWS),
    ]:
        assert loader._segment_rows(rows * 250, first) == expected
