"""Demo custom metrics: a request timer, a queue gauge and an order counter over four days."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

from db.engine import Database
from db.ingest.batch import IngestOutcome
from db.ingest.metric_samples import METRIC_SAMPLE
from db.metrics import count_from_source

DAYS = 4
SAMPLES_PER_METRIC = 1_500
ROUTES = [("/api/users", 50), ("/api/orders", 30), ("/api/search", 20)]
METHODS = [("GET", 75), ("POST", 25)]
QUEUES = ["emails", "invoices"]
REGIONS = ["eu", "us"]


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _daily(at: datetime) -> float:
    """1 at the busiest hour of the day, 0 at the quietest."""
    return 0.5 + 0.5 * math.sin((at.hour + at.minute / 60 - 9) / 24 * 2 * math.pi)


def generate(now: datetime, seed: int = 13) -> list[dict[str, Any]]:
    """Deterministic samples for one day's demo, as MetricSampleInput objects."""
    rng = random.Random(seed)
    source = f"demo {now.date().isoformat()}"
    step = timedelta(days=DAYS) / SAMPLES_PER_METRIC
    rows: list[dict[str, Any]] = []
    for n in range(SAMPLES_PER_METRIC):
        at = now - timedelta(days=DAYS) + step * n
        load = _daily(at)
        route, method = _pick(rng, ROUTES), _pick(rng, METHODS)
        latency = rng.lognormvariate(math.log(40 + 80 * load), 0.4) * (2 if method == "POST" else 1)
        stamp = at.isoformat()
        rows += [
            {
                "name": "http.server.duration",
                "type": "TIMER",
                "value": round(latency, 2),
                "timestamp": stamp,
                "unit": "ms",
                "source": source,
                "tags": {
                    "route": route,
                    "method": method,
                    "status": rng.choice(["200"] * 19 + ["500"]),
                },
            },
            {
                "name": "queue.depth",
                "type": "GAUGE",
                "value": round(200 * load * rng.uniform(0.7, 1.3)),
                "timestamp": stamp,
                "source": source,
                "tags": {"queue": rng.choice(QUEUES)},
            },
            {
                "name": "orders.placed",
                "type": "COUNTER",
                "value": rng.randint(0, int(3 + 12 * load)),
                "timestamp": stamp,
                "unit": "orders",
                "source": source,
                "tags": {"region": rng.choice(REGIONS)},
            },
        ]
    return rows


async def load(db: Database, now: datetime) -> str:
    """Record the demo samples, once a day (samples have no id to make a rerun a duplicate)."""
    from gateway.demo import describe, ingest_all

    rows = generate(now)
    async with db.read() as conn:
        stored = await count_from_source(conn, rows[0]["source"])
    if stored:
        outcome = IngestOutcome(duplicates=stored)
    else:
        outcome = await ingest_all(db, METRIC_SAMPLE, rows, now)
    return describe(f"custom metric samples (3 metrics, {DAYS} days)", outcome)
