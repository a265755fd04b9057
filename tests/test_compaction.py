"""Rollup rows are appended by every batch and folded by compaction: answers are the
same before and after it, and the same as raw rows, even while batches keep coming."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, text

from db import compaction
from db.aggregates import fetch_groups
from db.compaction import compact
from db.compiler import AggregateQuery
from db.facts.product_events import PRODUCT_EVENTS
from db.ingest.batch import ingest_batch
from db.ingest.product_events import PRODUCT_EVENT
from db.ingest.shape import RowContext
from db.rolled import answerable
from db.rollups import COMPACTED, KEY
from gateway.app import create_app
from gateway.maintenance import compact_and_vacuum
from tests.factories import ADMIN_SECRET, ndjson, product_events_mix
from tests.live_client import served
from tests.rollup_rows import assert_same_rows, rebuilt_rollup_rows, stored_rollup_rows

PRODUCTS = ("shop", "blog", "app")
MEASURES = frozenset(
    {"total_events", "error_count", "avg_page_load_time_ms", "p95_page_load_time_ms"}
)


def _batches(now: datetime, batches: int, size: int) -> list[list[dict[str, Any]]]:
    """Batches of varied events of three products over the same 20 hours, so every
    batch adds rows to keys the others have rows of too."""
    made = []
    for b in range(batches):
        rows = product_events_mix(now, count=size, seed=100 + b)
        for n, row in enumerate(rows):
            row["eventId"] = f"b{b}-{n}"
            row["productId"] = PRODUCTS[n % len(PRODUCTS)]
        made.append(rows)
    return made


async def _ingest(db, now: datetime, batches: list[list[dict[str, Any]]]) -> None:
    for rows in batches:
        outcome = await ingest_batch(db, PRODUCT_EVENT, rows, RowContext(now, timedelta(minutes=5)))
        assert outcome.accepted == len(rows)


def _questions(now: datetime) -> list[AggregateQuery]:
    start = (now - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    shapes: list[dict[str, Any]] = [{}, {"granularity": "hour"}, {"group_by": ("COUNTRY",)}]
    return [AggregateQuery(MEASURES, start, now + timedelta(hours=1), **s) for s in shapes]


async def _answers(db, now: datetime, raw: bool = False) -> list[Any]:
    answers = []
    async with db.read() as conn:
        for question in _questions(now):
            assert answerable(PRODUCT_EVENTS, question)
            groups = await fetch_groups(conn, PRODUCT_EVENTS, question, PRODUCTS, raw=raw)
            answers.append({p: [(g.key, g.values) for g in groups[p]] for p in PRODUCTS})
    return answers


def _assert_same_answers(got: list[Any], expected: list[Any], exact_percentiles: bool) -> None:
    assert len(got) == len(expected)
    for found, wanted in zip(got, expected, strict=True):
        assert found.keys() == wanted.keys()
        for product, groups in wanted.items():
            assert [key for key, _ in found[product]] == [key for key, _ in groups]
            for (_, values), (_, reference) in zip(found[product], groups, strict=True):
                for name, value in reference.items():
                    have = values[name]
                    if name.startswith("p95") and not exact_percentiles:
                        assert (have is None) == (value is None), name
                        if value is not None:  # the sketches' documented bound
                            assert abs(have - value) <= 0.01 * abs(value), (name, have, value)
                    elif isinstance(value, float):
                        assert math.isclose(have, value, rel_tol=1e-12), (name, have, value)
                    else:
                        assert have == value, name


async def _rows_and_keys(db) -> tuple[int, int, int]:
    """Rows of the product rollup tables, their distinct keys, and rows not compacted."""
    rows = keys = pending = 0
    assert PRODUCT_EVENTS.rollup is not None
    async with db.read() as conn:
        for grain in PRODUCT_EVENTS.rollup.grains:
            stored = grain.table
            key = [stored.c[name] for name in KEY]
            # One statement, so the three counts see the same snapshot while the
            # served gateway's compaction loop commits between our reads.
            counts = select(
                select(func.count()).select_from(stored).scalar_subquery(),
                select(func.count())
                .select_from(select(*key).distinct().subquery())
                .scalar_subquery(),
                select(func.count()).where(stored.c[COMPACTED].is_(False)).scalar_subquery(),
            )
            grain_rows, grain_keys, grain_pending = (await conn.execute(counts)).one()
            rows += grain_rows
            keys += grain_keys
            pending += grain_pending
    return rows, keys, pending


async def test_batches_append_rollup_rows_and_compaction_folds_them_without_changing_answers(
    db, now
):
    batches = _batches(now, batches=4, size=30)
    await _ingest(db, now, batches)
    rows, keys, pending = await _rows_and_keys(db)
    assert rows == pending > keys  # four batches, one row per key each

    raw = await _answers(db, now, raw=True)
    before = await _answers(db, now)
    _assert_same_answers(before, raw, exact_percentiles=False)
    counted = Counter(row["productId"] for rows in batches for row in rows)
    totals = {p: groups[0][1]["total_events"] for p, groups in before[0].items()}
    assert totals == counted

    assert await compact(db) == keys
    assert await _rows_and_keys(db) == (keys, keys, 0)
    # The same bins, merged: percentiles too are exactly what they were.
    _assert_same_answers(await _answers(db, now), before, exact_percentiles=True)
    assert await compact(db) == 0  # nothing left to fold
    assert_same_rows(await stored_rollup_rows(db), await rebuilt_rollup_rows(db))


async def test_compaction_beside_concurrent_batches_loses_and_doubles_nothing(db, now):
    batches = _batches(now, batches=12, size=20)
    await _ingest(db, now, batches[:2])

    async def compacting() -> None:
        for _ in range(12):  # small rounds, so compaction interleaves with the batches
            await compact(db, keys=5)
            await asyncio.sleep(0)

    await asyncio.gather(_ingest(db, now, batches[2:]), compacting())
    await compact(db)
    rows, keys, pending = await _rows_and_keys(db)
    # At most a key's base row and one row folded beside it (db.compaction.BASE_SHARE).
    assert keys <= rows <= 2 * keys
    assert pending == 0
    assert_same_rows(await stored_rollup_rows(db), await rebuilt_rollup_rows(db))
    answers = await _answers(db, now)
    _assert_same_answers(answers, await _answers(db, now, raw=True), exact_percentiles=False)
    expected = Counter(row["productId"] for rows in batches for row in rows)
    assert {p: groups[0][1]["total_events"] for p, groups in answers[0].items()} == expected


async def test_a_compaction_in_another_session_is_waited_out_not_joined(db, now):
    await _ingest(db, now, _batches(now, batches=2, size=12))
    rows, keys, _ = await _rows_and_keys(db)
    async with db.read() as other:  # another gateway, mid-compaction
        await other.execute(text(f"SELECT pg_advisory_lock({compaction._LOCK})"))
        try:
            assert await compact(db) == 0
            assert (await _rows_and_keys(db))[0] == rows
        finally:
            await other.execute(text(f"SELECT pg_advisory_unlock({compaction._LOCK})"))
    assert await compact(db) == keys


async def test_the_served_gateway_folds_what_events_bodies_appended(db, settings, now):
    fast = settings.model_copy(update={"compaction_interval_seconds": 0.1})
    batches = _batches(datetime.now(UTC), batches=3, size=25)
    async with served(create_app(db, fast, owns_database=False)) as url:
        base = url.replace("ws://", "http://").removesuffix("/graphql")
        headers = {"Authorization": f"Bearer {ADMIN_SECRET}"}
        async with httpx.AsyncClient(base_url=base, headers=headers) as http:
            for rows in batches:
                answer = await http.post(
                    "/v0/events", params={"name": "product_events"}, content=ndjson(rows)
                )
                assert answer.status_code == 202, answer.text
                assert answer.json()["successful_rows"] == len(rows)
            for _ in range(100):  # the loop runs every 0.1 s
                rows, keys, pending = await _rows_and_keys(db)
                if pending == 0:
                    break
                await asyncio.sleep(0.1)
    assert keys <= rows <= 2 * keys
    assert pending == 0
    assert_same_rows(await stored_rollup_rows(db), await rebuilt_rollup_rows(db))


async def test_a_pass_that_folds_rows_vacuums_the_rollup_tables_and_an_idle_one_does_not(db, now):
    """Compaction deletes what it folds: the server vacuums after a pass that folded
    anything, since autovacuum may be off (it is on this project's CI Postgres)."""
    names = [grain.table.name for _, grain in compaction._grains()]

    async def last_vacuums() -> dict[str, datetime | None]:
        async with db.read() as conn:
            found = await conn.execute(
                text(
                    "SELECT relname, last_vacuum FROM pg_stat_user_tables"
                    " WHERE relname = ANY(:names)"
                ),
                {"names": names},
            )
            return dict(found.all())

    await _ingest(db, now, _batches(now, batches=3, size=12))
    async with db.read() as conn:
        started = await conn.scalar(select(func.clock_timestamp()))
    assert await compact_and_vacuum(db) > 0
    vacuumed = await last_vacuums()
    assert set(vacuumed) == set(names)
    assert all(at is not None and at >= started for at in vacuumed.values()), vacuumed
    assert await compact_and_vacuum(db) == 0  # nothing left to fold: no vacuum
    assert await last_vacuums() == vacuumed


async def test_compaction_reads_each_pending_key_by_index_even_when_statistics_say_empty(db, now):
    """A rollup table analyzed while empty is planned as one row; then a load appends
    thousands. The compaction must still look its keys up one at a time (then
    delete by row address), never scan the table once per pending key."""
    assert PRODUCT_EVENTS.rollup is not None
    rollup = PRODUCT_EVENTS.rollup
    async with db.read() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for grain in rollup.grains:
            await autocommit.execute(text(f'ANALYZE "{grain.table.name}"'))
    batches = _batches(now, batches=6, size=200)
    await _ingest(db, now, batches)
    rows, keys, pending = await _rows_and_keys(db)
    assert rows == pending > keys
    async with db.read() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))  # as compact() runs it
        for grain in rollup.grains:
            statement = compaction.compaction(rollup, grain)
            compiled = statement.compile(
                dialect=conn.dialect, compile_kwargs={"literal_binds": True}
            )
            plan = "\n".join((await conn.execute(text(f"EXPLAIN {compiled}"))).scalars().all())
            assert "Tid Scan" in plan, plan
            assert "Join Filter" not in plan, plan  # the key compared row by row
            assert f"Index Scan using ix_{grain.table.name}_key" in plan, plan
    assert await compact(db) == keys
    assert await _rows_and_keys(db) == (keys, keys, 0)
    assert_same_rows(await stored_rollup_rows(db), await rebuilt_rollup_rows(db))


async def _held(db) -> dict[tuple[Any, ...], list[tuple[str, bool, int]]]:
    """Each product rollup key's rows: (row address, compacted, events)."""
    assert PRODUCT_EVENTS.rollup is not None
    found: dict[tuple[Any, ...], list[tuple[str, bool, int]]] = {}
    async with db.read() as conn:
        for grain in PRODUCT_EVENTS.rollup.grains:
            stored = grain.table
            at = text("ctid::text")
            listed = select(*[stored.c[n] for n in KEY], at, stored.c[COMPACTED], stored.c.events)
            for *key, address, done, events in await conn.execute(listed):
                found.setdefault((stored.name, *key), []).append((address, done, events))
    return found


def _bases_kept(held: dict[tuple[Any, ...], list[tuple[str, bool, int]]]) -> dict[Any, str]:
    """The base row each pending key keeps by the rule (its largest compacted row, while
    the key's other rows hold less than a quarter of its events), by key."""
    kept = {}
    for key, rows in held.items():
        done = [(events, address) for address, is_done, events in rows if is_done]
        if all(is_done for _, is_done, _ in rows) or not done:
            continue
        events, address = max(done)
        others = sum(e for _, _, e in rows) - events
        if others * compaction.BASE_SHARE < events:
            kept[key] = address
    return kept


async def test_a_keys_large_base_row_stays_while_its_new_rows_are_few(db, now):
    big, small, many = _batches(now, batches=3, size=240)
    small = small[:12]  # a few new events beside whole days and hours
    await _ingest(db, now, [big])
    await compact(db)
    rows, keys, _ = await _rows_and_keys(db)
    assert rows == keys  # no base yet: one row per key
    for batch in (small, many):
        await _ingest(db, now, [batch])
        before = await _held(db)
        kept = _bases_kept(before)
        pending = sum(1 for rows in before.values() if not all(done for _, done, _ in rows))
        if batch is small:
            assert kept
        await compact(db)
        after = await _held(db)
        assert after.keys() == before.keys()
        for key, rows in after.items():
            addresses = {address for address, _, _ in rows}
            if key in kept:  # the base untouched, one folded row beside it
                assert kept[key] in addresses, key
                assert len(rows) == 2, key
            elif any(not done for _, done, _ in before[key]):
                assert len(rows) == 1, key  # everything folded into one row
            else:
                assert rows == before[key], key  # a key with nothing pending is not touched
        assert sum(len(r) for r in after.values()) == len(after) + len(kept)
        assert pending > 0
        _assert_same_answers(
            await _answers(db, now), await _answers(db, now, raw=True), exact_percentiles=False
        )
    # Last: the rebuild replaces the rollup rows.
    assert_same_rows(await stored_rollup_rows(db), await rebuilt_rollup_rows(db))
