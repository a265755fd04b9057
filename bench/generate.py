"""Deterministic synthetic events of every kind, written as NDJSON files.

Rows spread over the DAYS days before ``end``, over a fixed population of
products, endpoints and models, so the benchmark's queries find data in
every range they ask for. A kind's file is written in parts by a process
pool (one worker per core), then joined, so `load` runs once per kind.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import orjson

DAYS = 30
PRODUCTS = [f"product-{n:03d}" for n in range(200)]
ENDPOINTS = [f"/api/v1/resource-{n:02d}" for n in range(50)]
MODELS = [f"model-{n:02d}" for n in range(10)]
COUNTRIES = ["US", "DE", "FR", "GB", "IN", "BR", "JP", "CA", "AU", "ES", "IT", "NL", "SE", "MX"]
DEVICES = ["desktop", "mobile", "tablet"]
EVENT_TYPES = ["page_view", "click", "add_to_cart", "purchase", "search", "signup"]
REGIONS = ["us-east", "us-west", "eu-west", "eu-central", "ap-south", "ap-east"]
ERRORS = ["TIMEOUT", "E_AUTH", "E_500", "CARD_DECLINED"]
PART_ROWS = 500_000
KINDS = ("product-events", "api-requests", "predictions")


def _skewed(pick: random.Random, items: list[str]) -> str:
    """A few items get most of the rows, as real traffic does."""
    return items[min(int(pick.expovariate(6 / len(items))), len(items) - 1)]


def _product_event(pick: random.Random, n: int, ts: str) -> dict[str, object]:
    failed = pick.random() < 0.04
    return {
        "eventId": f"pe-{n}",
        "timestamp": ts,
        "productId": _skewed(pick, PRODUCTS),
        "eventType": pick.choice(EVENT_TYPES),
        "userId": f"u-{pick.randrange(200_000)}",
        "durationMs": round(pick.expovariate(1 / 3000), 1),
        "errorCode": pick.choice(ERRORS) if failed else None,
        "pageLoadTimeMs": round(pick.lognormvariate(6.5, 0.5), 1),
        "apiLatencyMs": round(pick.lognormvariate(5, 0.6), 1),
        "deviceType": pick.choice(DEVICES),
        "country": pick.choice(COUNTRIES),
        "source": "web-app",
    }


def _api_request(pick: random.Random, n: int, ts: str) -> dict[str, object]:
    status = 200 if pick.random() < 0.95 else pick.choice([400, 404, 500, 502, 503])
    return {
        "requestId": f"ar-{n}",
        "timestamp": ts,
        "endpoint": _skewed(pick, ENDPOINTS),
        "statusCode": status,
        "latencyMs": round(pick.lognormvariate(4.5, 0.7), 1),
        "region": pick.choice(REGIONS),
        "deviceType": pick.choice(DEVICES),
        "errorReason": pick.choice(ERRORS) if status >= 400 else None,
    }


def _prediction(pick: random.Random, n: int, ts: str) -> dict[str, object]:
    predicted = round(pick.gauss(50, 15), 3)
    return {
        "predictionId": f"pr-{n}",
        "timestamp": ts,
        "modelId": pick.choice(MODELS),
        "modelVersion": pick.choice(["v1", "v2"]),
        "environment": "production",
        "predictedValue": predicted,
        "actualValue": round(predicted + pick.gauss(0, 5), 3) if pick.random() < 0.7 else None,
    }


ROW_MAKERS: dict[str, Callable[[random.Random, int, str], dict[str, object]]] = {
    "product-events": _product_event,
    "api-requests": _api_request,
    "predictions": _prediction,
}


def _write_part(kind: str, first: int, count: int, end: float, path: Path) -> Path:
    pick = random.Random(f"{kind}-{first}")
    make = ROW_MAKERS[kind]
    span = DAYS * 86_400
    with path.open("wb") as out:
        lines = []
        for n in range(first, first + count):
            at = datetime.fromtimestamp(end - pick.random() * span, UTC).isoformat()
            lines.append(orjson.dumps(make(pick, n, at)))
            if len(lines) == 10_000:
                out.write(b"\n".join(lines) + b"\n")
                lines = []
        if lines:
            out.write(b"\n".join(lines) + b"\n")
    return path


def generate(kind: str, rows: int, end: datetime, folder: Path, workers: int) -> Path:
    """Write `rows` rows of one kind as one NDJSON file in folder (parts made in parallel)."""
    folder.mkdir(parents=True, exist_ok=True)
    starts = range(0, rows, PART_ROWS)
    parts = [folder / f"{kind}-{i:04d}.part" for i in range(len(starts))]
    jobs = [
        (kind, s, min(PART_ROWS, rows - s), end.timestamp(), p)
        for s, p in zip(starts, parts, strict=True)
    ]
    if workers == 1 or len(jobs) == 1:
        written = [_write_part(*job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            written = [done.result() for done in [pool.submit(_write_part, *j) for j in jobs]]
    whole = folder / f"{kind}.ndjson"
    with whole.open("wb") as out:
        for part in written:
            with part.open("rb") as source:
                shutil.copyfileobj(source, out, 1 << 20)
            part.unlink()
    return whole
