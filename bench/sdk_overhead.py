"""What the SDK costs a service: the middleware's added latency and the sender's rows/s.

    .venv/bin/python bench/sdk_overhead.py [--requests 2000] [--rows 20000]

Starts `analytics-gateway serve` (DATABASE_URL when set, else an embedded Postgres in
a temporary folder) and a minimal FastAPI app under uvicorn on 127.0.0.1. The added
latency is measured inside the server: an outer ASGI probe around the middleware and
an inner one around the app; their difference per request is what the middleware adds
(the same probes without the middleware give the probes' own cost, shown as "none").
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from analytics_gateway_sdk import AnalyticsMiddleware, Tracker
from analytics_gateway_sdk._kinds import API_REQUESTS, graphql_body, ndjson_body
from fastapi import FastAPI

TOKEN = secrets.token_hex(16)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def gateway() -> Iterator[str]:
    """A gateway subprocess on a free port; its base URL."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "GATEWAY_ADMIN_TOKEN": TOKEN, "GATEWAY_DATA_DIR": data}
        cli = str(Path(sys.executable).parent / "analytics-gateway")
        process = subprocess.Popen(
            [cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(900):
                try:
                    httpx.get(f"{url}/graphql", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(30)


class Probe:
    """An ASGI layer that records how long each HTTP request spends inside it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seconds: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            self.seconds.append(time.perf_counter() - started)


def minimal_app() -> FastAPI:
    """The smallest realistic service: one parameterized route."""
    app = FastAPI()

    @app.get("/api/users/{user_id}")
    async def user(user_id: str) -> dict[str, str]:
        return {"id": user_id}

    return app


@contextmanager
def serving(app: Any) -> Iterator[httpx.Client]:
    """`app` under uvicorn in a thread; a keep-alive client for it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}") as http:
            yield http
    finally:
        server.should_exit = True
        thread.join(10)


def _p50_p99(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    # The first 5% warm up connections and code paths.
    warm = ordered[len(ordered) // 20 :] if len(ordered) > 100 else ordered
    return statistics.median(warm), warm[int(len(warm) * 0.99) - 1]


def latencies(tracker: Tracker | None, requests: int) -> tuple[list[float], list[float]]:
    """Per request, in ms: the time spent in the middleware outside the app (server side),
    and the whole round trip as the client saw it."""
    inner = Probe(minimal_app())
    wrapped: Any = inner if tracker is None else AnalyticsMiddleware(inner, tracker=tracker)
    outer = Probe(wrapped)
    round_trips = []
    with serving(outer) as http:
        for number in range(requests):
            started = time.perf_counter()
            http.get(f"/api/users/{number}")
            round_trips.append((time.perf_counter() - started) * 1000)
    added = [(o - i) * 1000 for o, i in zip(outer.seconds, inner.seconds, strict=True)]
    return added, round_trips


def sender_rows_per_second(url: str, rows: int) -> float:
    """Rows/s the sender delivers when fed as fast as its queue takes them."""
    tracker = Tracker(url, TOKEN)
    started = time.perf_counter()
    for number in range(rows):
        while tracker.stats["queued"] >= tracker.options.max_queue - 1:
            time.sleep(0.001)
        tracker.track_request("/bench/rows", 200, float(number % 500))
    tracker.flush_sync(120)
    elapsed = time.perf_counter() - started
    stats = tracker.stats
    tracker.close()
    print(f"  sender: {stats['sent']} sent, {stats['dropped']} dropped, via {stats['transport']}")
    return float(stats["sent"]) / elapsed


def encoding_ms(rows: int = 1000) -> tuple[float, float]:
    """Milliseconds to encode one batch for GraphQL and for NDJSON (median of 20)."""
    batch = [
        {
            "request_id": f"r-{n}",
            "timestamp": datetime.now(UTC),
            "endpoint": "/api/users/{user_id}",
            "method": "GET",
            "status_code": 200,
            "latency_ms": 1.5,
            "region": "eu-west",
        }
        for n in range(rows)
    ]
    times: dict[str, list[float]] = {"graphql": [], "ndjson": []}
    for _ in range(20):
        started = time.perf_counter()
        graphql_body(API_REQUESTS, batch)
        times["graphql"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        ndjson_body(batch)
        times["ndjson"].append((time.perf_counter() - started) * 1000)
    return statistics.median(times["graphql"]), statistics.median(times["ndjson"])


def main() -> None:
    """Run every measurement and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()
    dead = f"http://127.0.0.1:{_free_port()}"
    with gateway() as url:
        cases: list[tuple[str, Tracker | None]] = [
            ("none (probes only)", None),
            ("gateway reachable", Tracker(url, TOKEN)),
            (
                "gateway unreachable, retrying",
                Tracker(dead, breaker_threshold=10**9, shutdown_timeout=0.5),
            ),
            (
                "breaker open",
                Tracker(dead, breaker_threshold=1, breaker_cooldown=3600, shutdown_timeout=0.5),
            ),
        ]
        cases[-1][1].track_request("/bench/opens-the-breaker", 200, 1.0)  # type: ignore[union-attr]
        cases[-1][1].flush_sync(2)  # type: ignore[union-attr]
        for name, tracker in cases:
            added, round_trips = latencies(tracker, args.requests)
            p50, p99 = _p50_p99(added)
            print(f"middleware added, {name}: p50 {p50:.3f} ms, p99 {p99:.3f} ms")
            print("  round trip: p50 {:.3f} ms, p99 {:.3f} ms".format(*_p50_p99(round_trips)))
            if tracker is not None:
                print(f"  tracker: {dict(tracker.stats)}")
                tracker.close()
        graphql_ms, ndjson_ms = encoding_ms()
        print(f"encoding 1,000 rows: GraphQL {graphql_ms:.1f} ms, NDJSON {ndjson_ms:.1f} ms")
        print(f"sender sustained: {sender_rows_per_second(url, args.rows):,.0f} rows/s")


if __name__ == "__main__":
    main()
