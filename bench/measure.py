"""Timing the gateway: query latencies over HTTP and SQL, ingest throughput, freshness."""

from __future__ import annotations

import asyncio
import random
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from strawberry.utils.str_converters import to_snake_case

from bench.generate import ROW_MAKERS
from bench.queries import QUESTIONS, Question, render
from bench.server import TOKEN, Gateway, libpq
from db.compaction import compact, pending, vacuum_rollups
from db.engine import Database

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def percentile(values: list[float], fraction: float) -> float:
    """The continuous percentile of values (as percentile_cont)."""
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Latency:
    """One question's timings in milliseconds: over HTTP and as plain SQL."""

    name: str
    http: list[float]
    sql: list[float]


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def _graphql(http: httpx.Client, document: str) -> None:
    response = http.post("/graphql", json={"query": document})
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"query failed: {body}")


def _latency(
    question: Question, http: httpx.Client, sql: psycopg.Connection[Any], calls: int, end: datetime
) -> Latency:
    """One question `calls` times each way; every call asks about another range."""
    pick = random.Random(question.name)
    over_http, over_sql = [], []
    for call in range(calls):
        document = render(question, question.params(pick, end, call))
        over_http.append(_timed(lambda: _graphql(http, document)))  # noqa: B023
        params = question.params(pick, end, call)
        over_sql.append(_timed(lambda: sql.execute(question.sql, params).fetchall()))  # noqa: B023
    return Latency(question.name, over_http, over_sql)


def question_latencies(
    gateway: Gateway, database_url: str, end: datetime, calls: int
) -> list[Latency]:
    """Every question over HTTP and as SQL."""
    with (
        httpx.Client(base_url=gateway.url, headers=HEADERS, timeout=120) as http,
        psycopg.connect(libpq(database_url), autocommit=True) as sql,
    ):
        return [_latency(question, http, sql, calls, end) for question in QUESTIONS]


def trivial_queries(gateway: Gateway, calls: int) -> tuple[list[float], float]:
    """`{ __typename }` one after another: each call's milliseconds and requests per second."""
    with httpx.Client(base_url=gateway.url, headers=HEADERS, timeout=30) as http:
        for _ in range(50):  # warm the connection and the parser cache
            _graphql(http, "{ __typename }")
        started = time.perf_counter()
        times = [_timed(lambda: _graphql(http, "{ __typename }")) for _ in range(calls)]
        return times, calls / (time.perf_counter() - started)


def load_files(database_url: str, files: list[tuple[str, Path]]) -> list[tuple[int, float]]:
    """`analytics-gateway load` of each (kind, file), all at once, each a whole process:
    each file's rows and the seconds its load took."""
    from bench.server import _cli

    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    started = time.perf_counter()
    loads = [
        subprocess.Popen(
            [_cli(), "load", str(path), "--kind", kind],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for kind, path in files
    ]
    seconds = []
    for process in loads:
        if process.wait() != 0:
            raise RuntimeError(f"load exited with {process.returncode}")
        seconds.append(time.perf_counter() - started)
    counts = []
    for _, path in files:
        with path.open("rb") as handle:
            counts.append(sum(1 for _ in handle))
    return list(zip(counts, seconds, strict=True))


def _fresh_rows(
    kind: str, count: int, end: datetime, prefix: str, snake: bool = False
) -> Iterator[bytes]:
    """Rows of the last day with ids no other run uses; snake_case keys as Tinybird sends."""
    pick = random.Random(prefix)
    make = ROW_MAKERS[kind]
    for n in range(count):
        at = end - timedelta(seconds=pick.randrange(1, 86_400))
        row = make(pick, n, at.strftime("%Y-%m-%d %H:%M:%S") if snake else at.isoformat())
        first_key = next(iter(row))
        row[first_key] = f"{prefix}-{n}"  # every kind's id comes first
        yield orjson.dumps({to_snake_case(k): v for k, v in row.items()} if snake else row)


def compaction_seconds(database_url: str) -> float:
    """Seconds until every rollup row the ingest appended is folded (the server's own
    compaction may be at it: this waits for it, or folds the rest itself)."""

    async def drain() -> None:
        db = Database(database_url, pool_size=1)
        try:
            while await pending(db):
                if not await compact(db):  # the server holds the lock: let it work
                    await asyncio.sleep(0.05)
        finally:
            await db.dispose()

    started = time.perf_counter()
    asyncio.run(drain())
    return time.perf_counter() - started


def settle(database_url: str) -> None:
    """VACUUM (ANALYZE) the rollup tables before the questions, as the server's next
    compaction pass would: when the benchmark folded the last rows itself, the
    server found nothing to fold and left the dead rows of the folded ones."""

    async def vacuum() -> None:
        db = Database(database_url, pool_size=1)
        try:
            await vacuum_rollups(db)
        finally:
            await db.dispose()

    asyncio.run(vacuum())


def events_throughput(
    gateway: Gateway, database_url: str, rows: int, per_request: int, senders: int
) -> tuple[float, list[float]]:
    """NDJSON bodies of per_request rows from `senders` threads: stored rows per second,
    counted until their rollup rows are compacted too, and the milliseconds of
    `{ __typename }` calls made meanwhile (the stall ingest causes)."""
    prefix = f"ev-{uuid.uuid4().hex[:6]}"
    lines = list(_fresh_rows("product-events", rows, datetime.now(UTC), prefix, snake=True))
    bodies = [b"\n".join(lines[i : i + per_request]) for i in range(0, rows, per_request)]

    def send(body: bytes) -> int:
        with httpx.Client(base_url=gateway.url, headers=HEADERS, timeout=120) as http:
            while True:
                response = http.post("/v0/events", params={"name": "product_events"}, content=body)
                if response.status_code == 202:
                    return int(response.json()["successful_rows"])
                time.sleep(float(response.headers.get("retry-after", "1")))

    probes: list[float] = []
    started = time.perf_counter()
    with ThreadPoolExecutor(senders + 1) as pool:
        sent = [pool.submit(send, body) for body in bodies]
        with httpx.Client(base_url=gateway.url, headers=HEADERS, timeout=30) as http:
            while not all(job.done() for job in sent):
                probes.append(_timed(lambda: _graphql(http, "{ __typename }")))
                time.sleep(0.01)
        stored = sum(job.result() for job in sent)
    seconds = time.perf_counter() - started + compaction_seconds(database_url)
    return stored / seconds, probes


MUTATION = (
    "mutation($events: [ProductEventInput!]!) "
    "{ ingestProductEvents(events: $events) { accepted duplicates } }"
)


def mutation_throughput(gateway: Gateway, database_url: str, rows: int, per_batch: int) -> float:
    """ingestProductEvents over HTTP in batches of per_batch rows: stored rows per second,
    counted until their rollup rows are compacted too."""
    prefix = f"mu-{uuid.uuid4().hex[:6]}"
    lines = _fresh_rows("product-events", rows, datetime.now(UTC), prefix)
    events = [orjson.loads(line) for line in lines]
    stored, started = 0, time.perf_counter()
    with httpx.Client(base_url=gateway.url, headers=HEADERS, timeout=120) as http:
        for i in range(0, rows, per_batch):
            body = {"query": MUTATION, "variables": {"events": events[i : i + per_batch]}}
            answer = http.post("/graphql", json=body).json()
            stored += answer["data"]["ingestProductEvents"]["accepted"]
    return stored / (time.perf_counter() - started + compaction_seconds(database_url))


def freshness(gateway: Gateway, trials: int) -> list[float]:
    """Milliseconds from an event's acknowledgement (wait=false) to its presence in an aggregate."""
    results = []
    query = '{ product(id: "%s") { overview(range: {from: "%s"}) { totalEvents } } }'
    with httpx.Client(base_url=gateway.url, headers=HEADERS, timeout=30) as http:
        for trial in range(trials):
            # Named to sort after the generated products, so that products(first: 20)
            # asked again on a kept database (--keep) still lists those.
            product = f"zz-fresh-{uuid.uuid4().hex[:8]}-{trial}"
            now = datetime.now(UTC)
            row = {"event_id": product, "timestamp": now.isoformat(), "product_id": product,
                   "event_type": "page_view"}  # fmt: skip
            http.post("/v0/events", params={"name": "product_events"}, content=orjson.dumps(row))
            acked = time.perf_counter()
            since = (now - timedelta(hours=1)).isoformat()
            for _ in range(1000):
                answer = http.post("/graphql", json={"query": query % (product, since)}).json()
                if (answer["data"]["product"] or {}).get("overview", {}).get("totalEvents") == 1:
                    break
                time.sleep(0.005)
            results.append((time.perf_counter() - acked) * 1000)
    return results


def summary(values: list[float]) -> tuple[float, float, float]:
    """p50, p95 and p99 of values."""
    return percentile(values, 0.5), percentile(values, 0.95), percentile(values, 0.99)
