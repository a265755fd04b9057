"""Alert rules: creation checks, every kind and condition, state changes and access."""

from __future__ import annotations

import math
import statistics
from datetime import timedelta

import pytest

from resolvers.access import READ, Principal
from resolvers.context import GatewayContext
from schema.root import schema
from tests.factories import (
    RECORD_METRICS,
    api_request,
    ingest_api_requests,
    ingest_predictions,
    iso,
    metric_sample,
    percentile_cont,
    prediction,
)

CREATE = """
mutation($input: AlertInput!) {
  createAlert(input: $input) { id name state measure kind condition threshold windowMinutes }
}
"""
EVALUATE = "mutation { evaluateAlerts { id state lastValue lastEvaluatedAt lastTriggeredAt } }"
ALERT = """
query($id: ID!) {
  alert(id: $id) { id state lastValue history(first: 10) { state value message at } }
}
"""


async def create(gql, **fields):
    base = {"name": "watch", "target": "ENDPOINT", "targetId": "/api/pay", "measure": "errorRate"}
    return (await gql(CREATE, {"input": {**base, **fields}}))["createAlert"]


async def evaluate(gql, at):
    """evaluateAlerts at the clock `at`; each alert by id."""
    return {a["id"]: a for a in (await gql(EVALUATE, now=at))["evaluateAlerts"]}


async def history(gql, alert_id):
    return (await gql(ALERT, {"id": alert_id}))["alert"]


async def test_a_measure_the_target_does_not_have_is_refused_with_the_valid_ones(gql):
    errors = await gql.errors(
        CREATE,
        {
            "input": {
                "name": "x",
                "target": "ENDPOINT",
                "targetId": "/a",
                "measure": "rmse",
                "threshold": 1,
            }
        },
    )
    assert errors[0].extensions["code"] == "BAD_USER_INPUT"
    assert "p95LatencyMs" in errors[0].message
    assert "errorRate" in errors[0].message
    assert "topErrorReason" not in errors[0].message  # not a number
    errors = await gql.errors(
        CREATE,
        {
            "input": {
                "name": "x",
                "target": "METRIC",
                "targetId": "m",
                "measure": "p95",
                "threshold": 1,
            }
        },
    )
    assert "P95" in errors[0].message
    assert "LAST" in errors[0].message


async def test_a_threshold_alert_needs_a_threshold(gql):
    errors = await gql.errors(
        CREATE,
        {"input": {"name": "x", "target": "PRODUCT", "targetId": "p", "measure": "errorRate"}},
    )
    assert "threshold" in errors[0].message


async def test_threshold_alert_fires_goes_to_no_data_and_returns_to_ok(gql, now):
    base = now - timedelta(hours=3)
    bad = [
        api_request(base - timedelta(minutes=m), endpoint="/api/pay", statusCode=code)
        for m, code in [(1, 500), (2, 200), (3, 503), (4, 200)]
    ]
    good = [api_request(base + timedelta(hours=2, minutes=-m), endpoint="/api/pay") for m in (1, 2)]
    await ingest_api_requests(gql, bad + good, now)
    alert = await create(gql, threshold=0.25, condition="GT")
    assert alert["state"] == "OK"
    assert alert["windowMinutes"] == 5

    fired = (await evaluate(gql, base))[alert["id"]]
    assert fired["state"] == "FIRING"
    assert fired["lastValue"] == pytest.approx(2 / 4)
    assert fired["lastTriggeredAt"] == iso(base)
    again = (await evaluate(gql, base + timedelta(seconds=30)))[alert["id"]]
    assert again["state"] == "FIRING"  # no change, no new event
    assert (await evaluate(gql, base + timedelta(hours=1)))[alert["id"]]["state"] == "NO_DATA"
    assert (await evaluate(gql, base + timedelta(hours=2)))[alert["id"]]["state"] == "OK"

    found = await history(gql, alert["id"])
    assert [e["state"] for e in found["history"]] == ["OK", "NO_DATA", "FIRING"]
    assert found["history"][0]["value"] == 0.0
    assert found["history"][1]["value"] is None
    assert "no data" in found["history"][1]["message"]
    assert "above the threshold 0.25" in found["history"][2]["message"]


@pytest.mark.parametrize(
    ("condition", "threshold", "fires"),
    [
        ("GT", 100.0, False),
        ("GTE", 100.0, True),
        ("LT", 100.0, False),
        ("LTE", 100.0, True),
        ("GT", 99.0, True),
        ("LT", 101.0, True),
    ],
)
async def test_each_condition_compares_the_window_value(gql, now, condition, threshold, fires):
    rows = [api_request(now - timedelta(minutes=1), endpoint="/c", latencyMs=v) for v in (50, 150)]
    await ingest_api_requests(gql, rows, now)
    alert = await create(
        gql, targetId="/c", measure="avgLatencyMs", condition=condition, threshold=threshold
    )
    result = (await evaluate(gql, now))[alert["id"]]
    assert result["lastValue"] == pytest.approx(100.0)
    assert result["state"] == ("FIRING" if fires else "OK")


async def test_anomaly_fires_beyond_sensitivity_deviations_of_earlier_windows(gql, now):
    latencies = {"/steady": [100, 110, 90, 100, 104], "/spiky": [100, 110, 90, 100, 200]}
    rows = []
    for name, per_window in latencies.items():
        # window k (0 = current) is [now - 5(k+1) min, now - 5k min): values oldest first.
        for k, latency in enumerate(reversed(per_window)):
            rows.append(
                api_request(now - timedelta(minutes=5 * k + 2), endpoint=name, latencyMs=latency)
            )
    await ingest_api_requests(gql, rows, now)
    ids = {}
    for name in latencies:
        alert = await create(
            gql,
            targetId=name,
            measure="avgLatencyMs",
            kind="ANOMALY",
            sensitivity=3,
            baselineWindows=4,
        )
        ids[name] = alert["id"]
    result = await evaluate(gql, now)
    for name, per_window in latencies.items():
        baseline, current = per_window[:-1], per_window[-1]
        beyond = abs(current - statistics.mean(baseline)) > 3 * statistics.pstdev(baseline)
        assert result[ids[name]]["state"] == ("FIRING" if beyond else "OK")
        assert result[ids[name]]["lastValue"] == pytest.approx(current)
    assert result[ids["/spiky"]]["state"] == "FIRING"
    message = (await history(gql, ids["/spiky"]))["history"][0]["message"]
    assert "above normal" in message


async def test_anomaly_without_enough_baseline_is_no_data(gql, now):
    await ingest_api_requests(gql, [api_request(now - timedelta(minutes=1), endpoint="/new")], now)
    alert = await create(gql, targetId="/new", measure="requests", kind="ANOMALY")
    assert (await evaluate(gql, now))[alert["id"]]["state"] == "NO_DATA"


async def test_model_alert_on_rmse(gql, now):
    pairs = [(10.0, 7.0), (5.0, 5.0), (8.0, 12.0)]
    rows = [prediction(now - timedelta(minutes=2), p, a, modelId="eta") for p, a in pairs]
    await ingest_predictions(gql, rows, now)
    alert = await create(gql, target="MODEL", targetId="eta", measure="rmse", threshold=2.0)
    rmse = math.sqrt(sum((p - a) ** 2 for p, a in pairs) / len(pairs))
    result = (await evaluate(gql, now))[alert["id"]]
    assert result["lastValue"] == pytest.approx(rmse)
    assert result["state"] == "FIRING"


async def test_metric_alert_on_any_aggregation(gql, now):
    values = [3.0, 9.0, 4.0, 20.0]
    samples = [
        metric_sample(
            name="queue.depth", type="GAUGE", value=v, timestamp=iso(now - timedelta(minutes=4 - n))
        )
        for n, v in enumerate(values)
    ]
    await gql(RECORD_METRICS, {"samples": samples}, now=now)
    expected = {
        "SUM": sum(values),
        "AVG": statistics.mean(values),
        "MIN": min(values),
        "MAX": max(values),
        "COUNT": len(values),
        "MEDIAN": percentile_cont(values, 0.5),
        "P95": percentile_cont(values, 0.95),
        "P99": percentile_cont(values, 0.99),
        "LAST": values[-1],
    }
    ids = {}
    for aggregation in expected:
        alert = await create(
            gql, target="METRIC", targetId="queue.depth", measure=aggregation, threshold=10.0
        )
        ids[aggregation] = alert["id"]
    result = await evaluate(gql, now)
    for aggregation, value in expected.items():
        assert result[ids[aggregation]]["lastValue"] == pytest.approx(value), aggregation
        assert result[ids[aggregation]]["state"] == ("FIRING" if value > 10 else "OK")


async def test_update_and_delete_an_alert(gql):
    alert = await create(gql, threshold=0.5)
    update = """mutation($id: ID!, $input: AlertInput!) {
      updateAlert(id: $id, input: $input) { id name threshold enabled } }"""
    changed = {
        "name": "renamed",
        "target": "ENDPOINT",
        "targetId": "/api/pay",
        "measure": "errorRate",
        "threshold": 0.1,
        "enabled": False,
    }
    updated = (await gql(update, {"id": alert["id"], "input": changed}))["updateAlert"]
    assert updated == {"id": alert["id"], "name": "renamed", "threshold": 0.1, "enabled": False}
    listing = await gql("{ all: alerts { id } enabled: alerts(enabledOnly: true) { id } }")
    assert listing == {"all": [{"id": alert["id"]}], "enabled": []}
    delete = "mutation($id: ID!) { deleteAlert(id: $id) }"
    assert (await gql(delete, {"id": alert["id"]}))["deleteAlert"] is True
    assert (await gql(delete, {"id": alert["id"]}))["deleteAlert"] is False
    assert (await gql(ALERT, {"id": alert["id"]}))["alert"] is None


async def test_history_of_many_alerts_costs_one_statement(gql, now, statements):
    await ingest_api_requests(gql, [api_request(now, endpoint="/api/pay", statusCode=500)], now)
    for _ in range(3):
        await create(gql, threshold=0.5)
    await evaluate(gql, now + timedelta(seconds=1))
    statements.statements.clear()
    data = await gql("{ alerts { id history { state } } }")
    assert [len(a["history"]) for a in data["alerts"]] == [1, 1, 1]
    assert len(statements.statements) == 2  # the alerts, then every history at once


async def test_alerts_on_resources_the_token_cannot_see_are_invisible(gql, db, settings):
    alert = await create(gql, threshold=0.5)
    confined = Principal(token_id="t1", scopes=frozenset({READ}), resource_ids=frozenset({"/x"}))

    async def run(query, variables=None):
        context = GatewayContext(db, settings, principal=confined)
        return await schema.execute(
            query, variable_values=variables, context_value={"gateway": context}
        )

    assert (await run("{ alerts { id } }")).data == {"alerts": []}
    assert (await run(ALERT, {"id": alert["id"]})).data == {"alert": None}
    refused = await run(
        CREATE,
        {
            "input": {
                "name": "n",
                "target": "ENDPOINT",
                "targetId": "/api/pay",
                "measure": "errorRate",
                "threshold": 1,
            }
        },
    )
    assert refused.errors[0].extensions["code"] == "FORBIDDEN"
    mine = await run(
        CREATE,
        {
            "input": {
                "name": "n",
                "target": "ENDPOINT",
                "targetId": "/x",
                "measure": "errorRate",
                "threshold": 1,
            }
        },
    )
    assert mine.errors is None
    assert (await run("{ alerts { name } }")).data == {"alerts": [{"name": "n"}]}


async def test_only_an_admin_may_point_an_alert_at_a_webhook(gql):
    reader = Principal(token_id="t2", scopes=frozenset({READ}))
    base = {"name": "n", "target": "ENDPOINT", "targetId": "/api/pay", "measure": "errorRate"}
    hook = [{"kind": "webhook", "url": "http://127.0.0.1:9/hook"}]
    refused = await gql.errors(
        CREATE, {"input": {**base, "threshold": 1, "channels": hook}}, principal=reader
    )
    assert refused[0].extensions["code"] == "FORBIDDEN"
    assert "channels" in refused[0].message
    plain = await gql(CREATE, {"input": {**base, "threshold": 1}}, principal=reader)
    assert plain["createAlert"]["name"] == "n"
    admin = await gql(CREATE, {"input": {**base, "threshold": 1, "channels": hook}})
    assert admin["createAlert"]["name"] == "n"
