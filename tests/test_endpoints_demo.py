"""The demo's endpoints tell their stories: a slow region, a dominant error reason,
and business impact with numbers."""

from __future__ import annotations

from datetime import timedelta

from gateway.demo import endpoints as demo
from tests.factories import iso

STORY = """
query($range: TimeRange, $lastDay: TimeRange) { endpoints { nodes {
  name
  stats(range: $range) { requests }
  breakdown(by: REGION, range: $lastDay) { value metrics { p95LatencyMs } }
  errors(range: $range, limit: 1) { error share }
  businessImpact(range: $range) { revenueAttribution infrastructureCost score }
} } }
"""


async def test_demo_endpoints_show_a_slow_region_and_a_dominant_error(db, gql, now):
    summary = await demo.load(db, now)
    assert f"{len(demo.ENDPOINTS) * demo.REQUESTS_PER_ENDPOINT} stored" in summary
    since = {"from": iso(now - timedelta(days=demo.DAYS + 1))}
    last_day = {"from": iso(now - demo.INCIDENT)}
    variables = {"range": since, "lastDay": last_day}
    nodes = {n["name"]: n for n in (await gql(STORY, variables, now=now))["endpoints"]["nodes"]}
    assert set(nodes) == set(demo.ENDPOINTS)
    search = {s["value"]: s["metrics"]["p95LatencyMs"] for s in nodes["/api/search"]["breakdown"]}
    slow = search.pop(demo.SLOW_REGION)
    assert slow > 3 * max(search.values())
    [top] = nodes["/api/payments"]["errors"]
    assert top["error"] == "CARD_DECLINED"
    assert top["share"] > 0.5
    for node in nodes.values():
        assert node["stats"]["requests"] == demo.REQUESTS_PER_ENDPOINT
        impact = node["businessImpact"]
        assert impact["infrastructureCost"] > 0
        assert impact["revenueAttribution"] is not None
        assert impact["score"] is not None


async def test_demo_reload_on_the_same_day_stores_nothing_twice(db, now):
    await demo.load(db, now)
    again = await demo.load(db, now)
    total = len(demo.ENDPOINTS) * demo.REQUESTS_PER_ENDPOINT
    assert f": 0 stored, {total} already there, 0 rejected" in again
