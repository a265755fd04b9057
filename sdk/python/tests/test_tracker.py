"""The Tracker against a real gateway: delivery, outage, retries, drops and shutdown."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

import httpx
import psycopg
import pytest
from analytics_gateway_sdk import Tracker
from conftest import ADMIN_SECRET, Gateway, service, serving, wait_until
from flaky import FlakyFront
from sqlalchemy.engine import make_url

FAST = {"flush_interval": 0.05, "backoff_base": 0.02, "timeout": 2.0}


def test_every_kind_arrives_over_the_path_the_gateway_offers(
    gateway: Gateway, database_url: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    tracker = Tracker(gateway.url, ADMIN_SECRET, **FAST)
    for number in range(3):
        tracker.track_product_event(f"shop-{tag}", "page_view", user_id=f"u{number % 2}")
    tracker.track_product_event(f"shop-{tag}", "checkout", error_code="E42")
    labeled = tracker.track_prediction(f"model-{tag}", "v1", 10.0, features={"x": 1})
    tracker.track_prediction(f"model-{tag}", "v1", 4.0)
    tracker.record_actual(labeled, 8.0)
    for value in (1.0, 2.5, 4.0):
        tracker.record_metric(f"queue.depth.{tag}", "gauge", value, tags={"host": "a"})
    assert tracker.flush_sync(10)
    stats = dict(tracker.stats)
    tracker.close()

    # The path in use is NDJSON exactly when the gateway has /v0/events.
    probe = httpx.post(
        f"{gateway.url}/v0/events?name=metrics",
        content=b"",
        headers={"Authorization": f"Bearer {ADMIN_SECRET}"},
    )
    assert stats["transport"] == ("graphql" if probe.status_code == 404 else "ndjson")
    assert (stats["sent"], stats["rejected"], stats["dropped"]) == (4 + 2 + 1 + 3, 0, 0)
    data = gateway.query(
        """query($product: ID!, $model: ID!) {
             product(id: $product) { overview { totalEvents errorCount uniqueUsers } }
             model(id: $model) {
               performance(version: "v1") { predictionCount labeledCount mae } } }""",
        {"product": f"shop-{tag}", "model": f"model-{tag}"},
    )
    assert data["product"]["overview"] == {"totalEvents": 4, "errorCount": 1, "uniqueUsers": 2}
    assert data["model"]["performance"] == {"predictionCount": 2, "labeledCount": 1, "mae": 2.0}
    # Read from the table: the metric queries belong to another part of the gateway.
    libpq = make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(libpq.render_as_string(hide_password=False)) as conn:
        samples = conn.execute(
            "SELECT type, sum(value), count(*) FROM metric_samples WHERE name = %s GROUP BY type",
            (f"queue.depth.{tag}",),
        ).fetchall()
    assert samples == [("GAUGE", 1.0 + 2.5 + 4.0, 3)]


def test_rejected_rows_are_counted_and_not_retried(gateway: Gateway, prefix: str) -> None:
    tracker = Tracker(gateway.url, ADMIN_SECRET, **FAST)
    tracker.track_request(f"{prefix}/ok", 200, 3.0)
    tracker.track_request(f"{prefix}/bad", 999, 3.0)
    tracker.track_request(f"{prefix}/negative", 200, -1.0)
    assert tracker.flush_sync(10)
    stats = dict(tracker.stats)
    tracker.close()

    assert (stats["sent"], stats["rejected"], stats["retried"]) == (1, 2, 0)
    assert gateway.endpoint_statuses(prefix) == Counter({(f"{prefix}/ok", "200"): 1})


def test_gateway_outage_keeps_the_app_fast_and_queued_rows_arrive_once_it_is_back(
    gateway: Gateway, prefix: str
) -> None:
    tracker = Tracker(gateway.url, ADMIN_SECRET, breaker_threshold=2, breaker_cooldown=1.5, **FAST)
    latencies: list[float] = []
    made = 0
    with serving(service(tracker, prefix)) as http:

        def request() -> None:
            nonlocal made
            started = time.perf_counter()
            assert http.get(f"{prefix}/api/users/{made}").status_code == 200
            latencies.append(time.perf_counter() - started)
            made += 1

        gateway.stop()
        try:
            deadline = time.monotonic() + 20
            while tracker.stats["breaker"] != "open" and time.monotonic() < deadline:
                request()
                time.sleep(0.02)
            assert tracker.stats["breaker"] == "open"
            for _ in range(10):
                request()
            during = dict(tracker.stats)
        finally:
            gateway.start()
        assert wait_until(lambda: tracker.stats["breaker"] == "closed", 20)
        assert tracker.flush_sync(10)
    after = dict(tracker.stats)
    tracker.close()

    # The HTTP timeout is 2 s: an app that waited on the gateway would show it.
    assert max(latencies) < 1.0, sorted(latencies)[-3:]
    assert during["dropped"] >= 1
    assert after["retried"] >= 1
    assert after["dropped"] == during["dropped"]
    stored = gateway.endpoint_statuses(prefix)
    assert stored == Counter({(f"{prefix}/api/users/{{user_id}}", "200"): made - after["dropped"]})
    assert after["sent"] == made - after["dropped"]


def test_a_gateway_that_never_answers_costs_the_app_nothing(prefix: str) -> None:
    # A socket that listens and never accepts: connections open, answers never come.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        tracker = Tracker(
            f"http://127.0.0.1:{silent.getsockname()[1]}",
            timeout=1.0,
            breaker_threshold=2,
            breaker_cooldown=60,
            flush_interval=0.05,
            backoff_base=0.02,
            shutdown_timeout=0.5,
        )
        latencies: list[float] = []
        with serving(service(tracker, prefix)) as http:

            def request() -> None:
                started = time.perf_counter()
                assert http.get(f"{prefix}/api/users/1").status_code == 200
                latencies.append(time.perf_counter() - started)

            deadline = time.monotonic() + 20
            while tracker.stats["breaker"] != "open" and time.monotonic() < deadline:
                request()
                time.sleep(0.02)
            opened = dict(tracker.stats)
            for _ in range(10):
                request()
            during = dict(tracker.stats)
        tracker.close()

    assert opened["breaker"] == "open"
    # Each send waited out the 1 s timeout; the app's requests never did.
    assert max(latencies) < 0.5, sorted(latencies)[-3:]
    assert during["dropped"] - opened["dropped"] == 10


def test_retry_after_is_honoured_and_a_batch_whose_answer_was_lost_is_stored_once(
    gateway: Gateway, prefix: str
) -> None:
    script = ["503 retry-after 1", "lose the answer"]
    with FlakyFront(gateway.url, script) as front:
        tracker = Tracker(front.url, ADMIN_SECRET, transport="graphql", **FAST)
        for number in range(3):
            tracker.track_request(f"{prefix}/pay", 200, float(number))
        assert tracker.flush_sync(15)
        stats = dict(tracker.stats)
        tracker.close()
        sends = list(front.times)

    assert len(sends) == 3
    assert sends[1] - sends[0] >= 1.0
    # The lost answer's rows were stored; the resend finds them as duplicates.
    assert (stats["sent"], stats["duplicates"], stats["retried"]) == (3, 3, 2 * 3)
    assert gateway.endpoint_statuses(prefix) == Counter({(f"{prefix}/pay", "200"): 3})


def test_a_busy_gateway_is_waited_for_without_opening_the_breaker(
    gateway: Gateway, prefix: str
) -> None:
    # Two 429s would open a breaker of threshold 2 if they counted as failures, and
    # its 60 s cool-down would outlast the flush.
    with FlakyFront(gateway.url, ["429 retry-after 1", "429 retry-after 1"]) as front:
        tracker = Tracker(front.url, ADMIN_SECRET, breaker_threshold=2, breaker_cooldown=60, **FAST)
        tracker.track_request(f"{prefix}/busy", 200, 1.0)
        assert tracker.flush_sync(15)
        stats = dict(tracker.stats)
        tracker.close()
        sends = list(front.times)

    assert stats["breaker"] == "closed"
    assert (stats["sent"], stats["retried"]) == (1, 2)
    assert sends[2] - sends[0] >= 2.0
    assert gateway.endpoint_statuses(prefix) == Counter({(f"{prefix}/busy", "200"): 1})


def test_a_full_queue_drops_and_counts_without_blocking() -> None:
    # Nothing listens on the URL and no flush is due: the queue only fills.
    tracker = Tracker(
        "http://127.0.0.1:9",
        max_queue=100,
        batch_size=10_000,
        flush_interval=600,
        shutdown_timeout=0.2,
    )
    per_thread, threads = 250, 4

    def track() -> None:
        for number in range(per_thread):
            tracker.track_request("/api/full", 200, float(number))

    started = time.perf_counter()
    workers = [threading.Thread(target=track) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    elapsed = time.perf_counter() - started
    stats = dict(tracker.stats)
    tracker.close()

    assert elapsed < 2.0
    assert stats["queued"] == 100
    assert stats["dropped"] == per_thread * threads - 100
    assert tracker.stats["dropped"] == per_thread * threads
    assert tracker.track_request("/api/full", 200, 1.0)
    assert tracker.stats["dropped"] == per_thread * threads + 1


async def test_flush_awaits_rows_tracked_from_threads_without_blocking_the_loop(
    gateway: Gateway, prefix: str
) -> None:
    tracker = Tracker(gateway.url, ADMIN_SECRET, flush_interval=0.2)
    per_thread, threads = 200, 3

    def track(worker: int) -> None:
        for number in range(per_thread):
            tracker.track_request(f"{prefix}/w{worker}", 200, float(number))

    await asyncio.gather(*(asyncio.to_thread(track, worker) for worker in range(threads)))
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.create_task(tick())
    assert await tracker.flush(10)
    ticker.cancel()
    tracker.close()

    assert ticks >= 1
    assert tracker.stats["sent"] == per_thread * threads
    expected = Counter({(f"{prefix}/w{worker}", "200"): per_thread for worker in range(threads)})
    assert gateway.endpoint_statuses(prefix) == expected


def test_process_exit_flushes_through_atexit(gateway: Gateway, prefix: str) -> None:
    script = (
        "import sys\n"
        "from analytics_gateway_sdk import Tracker\n"
        "tracker = Tracker(sys.argv[1], sys.argv[2], flush_interval=600)\n"
        "for n in range(4):\n"
        "    tracker.track_request(sys.argv[3], 201, float(n), method='POST')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, gateway.url, ADMIN_SECRET, f"{prefix}/exit"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    assert gateway.endpoint_statuses(prefix) == Counter({(f"{prefix}/exit", "201"): 4})


def test_options_are_checked_when_the_tracker_is_made() -> None:
    with pytest.raises(TypeError, match="max_queu"):
        Tracker("http://127.0.0.1:9", max_queu=10)
    with pytest.raises(ValueError, match="batch_size must be at least 1, not 0"):
        Tracker("http://127.0.0.1:9", batch_size=0)
    with pytest.raises(ValueError, match="transport is auto, ndjson or graphql"):
        Tracker("http://127.0.0.1:9", transport="grpc")


def test_a_forked_child_sends_its_own_rows_under_ids_of_its_own(
    gateway: Gateway, prefix: str
) -> None:
    script = (
        "import os, sys\n"
        "from analytics_gateway_sdk import Tracker\n"
        "tracker = Tracker(sys.argv[1], sys.argv[2], flush_interval=600)\n"
        "child = os.fork()\n"
        "name = sys.argv[3] + ('/child' if child == 0 else '/parent')\n"
        "for n in range(3 if child == 0 else 2):\n"
        "    tracker.track_request(name, 200, float(n))\n"
        "if child:\n"
        "    os.waitpid(child, 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, gateway.url, ADMIN_SECRET, prefix],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert gateway.endpoint_statuses(prefix) == Counter(
        {(f"{prefix}/child", "200"): 3, (f"{prefix}/parent", "200"): 2}
    )
