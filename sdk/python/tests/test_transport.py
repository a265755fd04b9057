"""The NDJSON transport against a receiver built from the events spec, and rows built
wrong by the caller."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime

from analytics_gateway_sdk import Tracker
from conftest import ADMIN_SECRET, Gateway
from events_receiver import EventsReceiver


def test_ndjson_posts_snake_case_rows_per_datasource_with_the_bearer_token() -> None:
    at = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    with EventsReceiver() as receiver:
        tracker = Tracker(receiver.url, "secret-token", flush_interval=0.05)
        tracker.track_product_event("shop", "page_view", timestamp=at, is_error=False)
        tracker.track_request("/api/pay", 200, 12.5, method="POST", timestamp=at)
        tracker.track_request("/api/pay", 999, 1.0, timestamp=at)
        tracker.track_prediction("eta", "v2", 3.5, timestamp=at, features={"km": 4})
        tracker.record_metric("jobs", "counter", 2.0, timestamp=at, tags={"queue": "a"})
        assert tracker.flush_sync(10)
        stats = dict(tracker.stats)
        tracker.close()

    assert {name for name, _, _ in receiver.posts} == {
        "product_events",
        "api_requests",
        "ml_model_predictions",
        "metrics",
    }
    assert {auth for _, auth, _ in receiver.posts} == {"Bearer secret-token"}
    rows = {name: rows for name, _, rows in receiver.posts}
    request = rows["api_requests"][0]
    assert request == {
        "request_id": request["request_id"],
        "timestamp": at.isoformat(),
        "endpoint": "/api/pay",
        "method": "POST",
        "status_code": 200,
        "latency_ms": 12.5,
    }
    assert rows["product_events"][0]["is_error"] is False
    assert rows["ml_model_predictions"][0]["features"] == {"km": 4}
    assert rows["metrics"][0]["type"] == "COUNTER"
    assert stats["transport"] == "ndjson"
    assert (stats["sent"], stats["rejected"]) == (4, 1)


def test_a_row_built_wrong_is_dropped_without_raising_and_spares_its_batch(
    gateway: Gateway, prefix: str
) -> None:
    tracker = Tracker(gateway.url, ADMIN_SECRET, flush_interval=0.05)
    tracker.track_request(f"{prefix}/ok", 200, 1.0)
    tracker.track_request(f"{prefix}/nan", 200, math.nan)
    tracker.track_request(f"{prefix}/text", "two hundred", 1.0)  # type: ignore[arg-type]
    tracker.record_metric("m", "gauge", math.inf)
    tracker.track_request(f"{prefix}/ok", 201, 2.0)
    assert tracker.flush_sync(10)
    stats = dict(tracker.stats)
    tracker.close()

    assert (stats["sent"], stats["dropped"], stats["rejected"]) == (2, 3, 0)
    assert gateway.endpoint_statuses(prefix) == Counter(
        {(f"{prefix}/ok", "200"): 1, (f"{prefix}/ok", "201"): 1}
    )
