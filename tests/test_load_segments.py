"""`load` writes a file in segments of chunks, each one transaction whose rollups are
added once, at its end: the rollups equal a rebuild from the raw rows, and a failed
segment leaves exactly the segments before it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from db.aggregates import fetch_groups
from db.compiler import AggregateQuery
from db.facts.product_events import PRODUCT_EVENTS
from db.ingest import segment as segments
from db.rolled import answerable, appends
from db.tables import product_events, products, quarantine, row_counts
from gateway import load as loader
from gateway.load import load_file, plan
from gateway.load_formats import LoadError
from tests.factories import ndjson, product_events_mix
from tests.rollup_rows import assert_same_rows, rebuilt_rollup_rows, stored_rollup_rows

TOLERANCE = timedelta(minutes=5)
# Chunks of 4 lines, so segments of 12 (the first chunk that reaches 10 ends one).
CHUNK_ROWS, SEGMENT_ROWS = 4, 10


@pytest.fixture(autouse=True)
def _small_segments(monkeypatch):
    monkeypatch.setattr(loader, "CHUNK_ROWS", CHUNK_ROWS)
    monkeypatch.setattr(loader, "SEGMENT_ROWS", SEGMENT_ROWS)


def _lines(now, count: int) -> list[Any]:
    """count varied events of three products over the 20 hours before now."""
    rows = product_events_mix(now, count=count, seed=count)
    for n, row in enumerate(rows):
        row["productId"] = ("shop", "blog", "app")[n % 3]
    return rows


async def _refused_load(db, tmp_path, lines: list[Any]) -> tuple[str, Any]:
    """Load the lines as a file, which must fail: the message, and the file."""
    path = tmp_path / "events.ndjson"
    path.write_text(ndjson(lines))
    with pytest.raises(LoadError) as refused:
        await load_file(db, plan(path, "product-events", "ndjson"), TOLERANCE)
    return str(refused.value), path


def _second_segment_fails():
    """segment.appends as it is, then a real database error, in the second segment only."""
    ended: list[str] = []

    def appending(fact, source):
        ended.append(fact.name)
        return [*appends(fact, source), *([text("SELECT 1 / 0")] if len(ended) == 2 else [])]

    return appending


async def _stored(db) -> tuple[list[str], list[str], list[int], int]:
    """Stored event ids, registered products, quarantined line numbers, counted rows."""
    async with db.read() as conn:
        ids = await conn.scalars(select(product_events.c.event_id).order_by("event_id"))
        names = await conn.scalars(select(products.c.id).order_by("id"))
        kept = await conn.scalars(select(quarantine.c.row_index).order_by("row_index"))
        counted = await conn.scalar(
            select(func.coalesce(func.sum(row_counts.c.rows), 0)).where(
                row_counts.c.table_name == product_events.name
            )
        )
    return list(ids), list(names), list(kept), counted


async def test_a_load_in_segments_keeps_rollups_equal_to_a_rebuild_and_to_raw_answers(
    db, now, tmp_path
):
    lines = _lines(now, 40)
    lines[5] = dict(lines[1])  # a duplicate in the first segment
    lines[30] = dict(lines[2])  # and one three segments later
    lines[13] = dict(lines[10])  # and one in the next segment, written while the first ends
    lines[20] = "{not json"
    path = tmp_path / "events.ndjson"
    path.write_text(ndjson(lines))
    summary = await load_file(db, plan(path, "product-events", "ndjson"), TOLERANCE)

    assert (summary.accepted, summary.duplicates, summary.rejected) == (36, 3, 1)
    ids, names, kept, counted = await _stored(db)
    assert len(ids) == counted == 36
    assert (names, kept) == (["app", "blog", "shop"], [21])
    assert_same_rows(await stored_rollup_rows(db), await rebuilt_rollup_rows(db))

    start = (now - timedelta(days=1)).replace(hour=0, minute=0, second=0)
    for shape in ({"granularity": "hour"}, {"group_by": ("COUNTRY",)}):
        question = AggregateQuery(frozenset({"total_events", "error_count"}), start, now, **shape)
        assert answerable(PRODUCT_EVENTS, question)
        async with db.read() as conn:
            raw = await fetch_groups(conn, PRODUCT_EVENTS, question, names, raw=True)
            rolled = await fetch_groups(conn, PRODUCT_EVENTS, question, names)
        assert rolled == raw
        assert sum(g.values["total_events"] for groups in raw.values() for g in groups) == 36


async def test_of_rows_staged_with_one_identity_the_first_in_the_file_is_stored(db, now, tmp_path):
    """A segment stores its staged rows at its end in storage order, not in file order;
    of rows with one identity (product, id, time), the first in the file still wins."""
    lines = _lines(now, 12)  # one segment of three chunks
    for n in range(4):  # the third chunk repeats the first four rows, changed
        lines[8 + n] = {**lines[n], "durationMs": 90_000.0 + n, "country": "later"}
    path = tmp_path / "events.ndjson"
    path.write_text(ndjson(lines))
    summary = await load_file(db, plan(path, "product-events", "ndjson"), TOLERANCE)

    assert (summary.accepted, summary.duplicates, summary.rejected) == (8, 4, 0)
    async with db.read() as conn:
        stored = {
            row.event_id: (row.duration_ms, row.country)
            for row in await conn.execute(
                select(
                    product_events.c.event_id,
                    product_events.c.duration_ms,
                    product_events.c.country,
                )
            )
        }
    assert stored == {r["eventId"]: (r["durationMs"], r["country"]) for r in lines[:8]}


async def test_a_fault_in_a_later_segment_keeps_the_earlier_ones_whole_and_says_so(
    db, now, tmp_path, monkeypatch
):
    lines = _lines(now, 24)
    lines[3] = "[1]"  # quarantined with the first segment (lines 1-12)
    lines[14] = "[2]"  # and with the second (lines 13-24), which fails
    lines[18]["productId"] = "only-in-the-second-segment"
    monkeypatch.setattr(segments, "appends", _second_segment_fails())
    said, path = await _refused_load(db, tmp_path, lines)
    assert "rows from line 13 on, so none from there is stored" in said
    assert "the 12 rows before line 13 are" in said
    assert "loading the file again is safe" in said

    ids, names, kept, counted = await _stored(db)
    first = sorted(r["eventId"] for r in lines[:12] if isinstance(r, dict))
    assert (sorted(ids), kept, counted) == (first, [4], 11)
    assert "only-in-the-second-segment" not in names
    assert_same_rows(await stored_rollup_rows(db), await rebuilt_rollup_rows(db))

    monkeypatch.setattr(segments, "appends", appends)
    again = await load_file(db, plan(path, "product-events", "ndjson"), TOLERANCE)
    assert (again.accepted, again.duplicates, again.rejected) == (11, 11, 2)
    ids, names, _, counted = await _stored(db)
    assert len(ids) == counted == 22
    assert "only-in-the-second-segment" in names
    assert_same_rows(await stored_rollup_rows(db), await rebuilt_rollup_rows(db))


async def test_a_fault_in_the_first_segment_says_nothing_is_stored(db, now, tmp_path, monkeypatch):
    path = tmp_path / "events.ndjson"
    path.write_text(ndjson(_lines(now, 6)))
    monkeypatch.setattr(segments, "appends", lambda fact, source: [text("SELECT 1 / 0")])
    with pytest.raises(LoadError, match="none of it is stored; loading again is safe"):
        await load_file(db, plan(path, "product-events", "ndjson"), TOLERANCE)
    assert await _stored(db) == ([], [], [], 0)


async def test_a_segment_that_fails_to_end_while_the_next_writes_takes_the_next_with_it(
    db, now, tmp_path, monkeypatch
):
    """A segment's end runs while the next segment writes: when that end fails, the
    next one is rolled back too, and the load names the first segment not stored."""
    lines = _lines(now, 36)
    lines[26]["productId"] = "only-in-the-third-segment"
    monkeypatch.setattr(segments, "appends", _second_segment_fails())
    said, _ = await _refused_load(db, tmp_path, lines)
    assert "rows from line 13 on, so none from there is stored" in said
    ids, names, _, counted = await _stored(db)
    assert sorted(ids) == sorted(r["eventId"] for r in lines[:12])
    assert counted == 12
    assert "only-in-the-third-segment" not in names
    assert_same_rows(await stored_rollup_rows(db), await rebuilt_rollup_rows(db))
