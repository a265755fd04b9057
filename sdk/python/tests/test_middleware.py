"""The middleware on a real FastAPI service under uvicorn, reporting to a real gateway."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from analytics_gateway_sdk import AnalyticsMiddleware, Tracker
from conftest import ADMIN_SECRET, Gateway, service, serving


def test_requests_appear_in_endpoint_stats_under_route_templates_with_statuses(
    gateway: Gateway, prefix: str
) -> None:
    tracker = Tracker(gateway.url, ADMIN_SECRET, flush_interval=0.1)
    expected: Counter[tuple[str, str]] = Counter()
    with serving(service(tracker, prefix, region="eu-west")) as http:
        for user in ("1", "2", "ab-3"):
            answer = http.get(f"{prefix}/api/users/{user}")
            expected[(f"{prefix}/api/users/{{user_id}}", str(answer.status_code))] += 1
        for _ in range(2):
            answer = http.post(f"{prefix}/api/orders")
            expected[(f"{prefix}/api/orders", str(answer.status_code))] += 1
        answer = http.get(f"{prefix}/api/missing/widget")
        expected[(f"{prefix}/api/missing/{{item}}", str(answer.status_code))] += 1
        answer = http.get(f"{prefix}/api/boom")
        expected[(f"{prefix}/api/boom", str(answer.status_code))] += 1
        answer = http.get(f"{prefix}/v2/items/7")
        expected[(f"{prefix}/v2/items/{{item_id}}", str(answer.status_code))] += 1
        answer = http.get(f"{prefix}/no/such/path")
        unmatched = ("(unmatched)", str(answer.status_code))
    assert tracker.flush_sync(10)
    tracker.close()

    assert expected[(f"{prefix}/api/boom", "500")] == 1
    assert gateway.endpoint_statuses(prefix) == expected
    assert gateway.endpoint_statuses("(unmatched)") == Counter({unmatched: 1})
    methods = gateway.query(
        """query($name: String!) { endpoint(name: $name) {
             breakdown(by: METHOD) { value metrics { requests } }
             regions: breakdown(by: REGION) { value metrics { requests } } } }""",
        {"name": f"{prefix}/api/orders"},
    )["endpoint"]
    assert [(s["value"], s["metrics"]["requests"]) for s in methods["breakdown"]] == [("POST", 2)]
    assert [(s["value"], s["metrics"]["requests"]) for s in methods["regions"]] == [("eu-west", 2)]


async def test_unhandled_exception_is_recorded_as_500_and_reraised_unchanged_a_cancel_as_499(
    gateway: Gateway, prefix: str
) -> None:
    tracker = Tracker(gateway.url, ADMIN_SECRET, flush_interval=0.1)
    raised = LookupError("the app's own error")

    async def failing_app(scope: Any, receive: Any, send: Any) -> None:
        raise raised

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        raise AssertionError("nothing is sent for an unhandled exception")

    middleware = AnalyticsMiddleware(failing_app, tracker=tracker)
    scope = {"type": "http", "method": "PUT", "path": f"{prefix}/raw", "headers": []}
    with pytest.raises(LookupError) as caught:
        await middleware(scope, receive, send)
    assert caught.value is raised

    async def abandoned_app(scope: Any, receive: Any, send: Any) -> None:
        raise asyncio.CancelledError

    gone = {**scope, "path": f"{prefix}/gone"}
    with pytest.raises(asyncio.CancelledError):
        await AnalyticsMiddleware(abandoned_app, tracker=tracker)(gone, receive, send)
    assert await tracker.flush(10)
    tracker.close()

    stored = gateway.query(
        """query($name: String!) { endpoint(name: $name) {
             stats { requests errorCount topErrorReason } } }""",
        {"name": f"{prefix}/raw"},
    )["endpoint"]["stats"]
    assert stored == {"requests": 1, "errorCount": 1, "topErrorReason": "LookupError"}
    assert gateway.endpoint_statuses(prefix) == Counter(
        {(f"{prefix}/raw", "500"): 1, (f"{prefix}/gone", "499"): 1}
    )


def test_sampling_drops_fast_successes_but_keeps_errors_and_slow_requests(
    gateway: Gateway, prefix: str
) -> None:
    tracker = Tracker(gateway.url, ADMIN_SECRET, flush_interval=0.1)
    # The slow route sleeps 350 ms; the others answer far under 250 ms even on a loaded
    # machine, so only errors and the slow route may be kept.
    app = service(tracker, prefix, sample_rate=0.0, slow_ms=250)
    expected: Counter[tuple[str, str]] = Counter()
    with serving(app) as http:
        for user in range(6):
            assert http.get(f"{prefix}/api/users/{user}").status_code == 200
        for path, template in (("missing/a", "missing/{item}"), ("boom", "boom"), ("slow", "slow")):
            for _ in range(2):
                answer = http.get(f"{prefix}/api/{path}")
                expected[(f"{prefix}/api/{template}", str(answer.status_code))] += 1
    assert tracker.flush_sync(10)
    tracker.close()

    assert gateway.endpoint_statuses(prefix) == expected


def test_sampler_keeps_the_requests_it_weighs_at_one(gateway: Gateway, prefix: str) -> None:
    def premium_only(scope: Any) -> float:
        return 1.0 if (b"x-plan", b"premium") in scope["headers"] else 0.0

    tracker = Tracker(gateway.url, ADMIN_SECRET, flush_interval=0.1)
    plans = ["premium", "free", "free", "premium", "free", "premium", "premium"]
    with serving(service(tracker, prefix, sampler=premium_only)) as http:
        for user, plan in enumerate(plans):
            http.get(f"{prefix}/api/users/{user}", headers={"x-plan": plan})
    assert tracker.flush_sync(10)
    tracker.close()

    template = f"{prefix}/api/users/{{user_id}}"
    assert gateway.endpoint_statuses(prefix) == Counter({(template, "200"): plans.count("premium")})


def test_user_and_session_ids_come_from_the_callable(gateway: Gateway, prefix: str) -> None:
    def ids(scope: Any) -> tuple[str | None, str | None]:
        headers = dict(scope["headers"])
        return headers[b"x-user"].decode(), headers[b"x-session"].decode()

    tracker = Tracker(gateway.url, ADMIN_SECRET, flush_interval=0.1)
    users = ["ann", "bob", "ann", "cid"]
    with serving(service(tracker, prefix, user_id=ids)) as http:
        for number, user in enumerate(users):
            http.post(f"{prefix}/api/orders", headers={"x-user": user, "x-session": f"s{number}"})
    assert tracker.flush_sync(10)
    tracker.close()

    stats = gateway.query(
        """query($name: String!) { endpoint(name: $name) { stats { requests uniqueUsers } } }""",
        {"name": f"{prefix}/api/orders"},
    )["endpoint"]["stats"]
    assert stats == {"requests": len(users), "uniqueUsers": len(set(users))}


def test_shutdown_of_the_app_flushes_what_was_queued(gateway: Gateway, prefix: str) -> None:
    # No periodic flush during the test: only the lifespan shutdown can deliver the rows.
    tracker = Tracker(gateway.url, ADMIN_SECRET, flush_interval=600)
    with serving(service(tracker, prefix)) as http:
        for user in range(5):
            http.get(f"{prefix}/api/users/{user}")
        assert tracker.stats["sent"] == 0
    assert tracker.stats["sent"] == 5
    tracker.close()

    template = f"{prefix}/api/users/{{user_id}}"
    assert gateway.endpoint_statuses(prefix) == Counter({(template, "200"): 5})
