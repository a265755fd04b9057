"""The demo dashboard: one public board over products, endpoints, models and a custom metric.

Saved through the GraphQL mutations, so its widget queries are validated like
any client's. Each widget's ``visualization`` tells the console how to draw
its data: ``type`` (line, bar or tile), ``path`` to the list or number in
``data``, and for charts ``x``, ``y`` (and ``series``) within each item.
"""

from __future__ import annotations

from typing import Any

from db.engine import Database
from gateway.settings import Settings
from resolvers.context import GatewayContext
from schema.root import schema

NAME = "Demo: service health"

WIDGETS: list[dict[str, Any]] = [
    {
        "title": "Checkout errors, hourly",
        "query": "query($id: ID!) { product(id: $id) { timeseries(granularity: HOUR) "
        "{ bucket metrics { errorRate totalEvents } } } }",
        "variables": {"id": "checkout-web"},
        "visualization": {
            "type": "line",
            "path": "product.timeseries",
            "x": "bucket",
            "y": "metrics.errorRate",
        },
    },
    {
        "title": "Events per product, last 24 h",
        "query": "{ products { nodes { id overview { totalEvents } } } }",
        "visualization": {
            "type": "bar",
            "path": "products.nodes",
            "x": "id",
            "y": "overview.totalEvents",
        },
    },
    {
        "title": "Search p95 latency by region (ms)",
        "query": "query($name: String!) { endpoint(name: $name) { breakdown(by: REGION) "
        "{ value metrics { p95LatencyMs } } } }",
        "variables": {"name": "/api/search"},
        "visualization": {
            "type": "bar",
            "path": "endpoint.breakdown",
            "x": "value",
            "y": "metrics.p95LatencyMs",
        },
    },
    {
        "title": "Delivery ETA model RMSE (latest version)",
        "query": '{ model(id: "delivery-eta") { performance(version: "latest") { rmse } } }',
        "visualization": {"type": "tile", "path": "model.performance.rmse"},
    },
    {
        "title": "HTTP p95 duration by method, hourly (ms)",
        "query": '{ metric(name: "http.server.duration") { series(aggregation: P95, '
        'granularity: HOUR, groupBy: ["method"]) { bucket groups { key value } } } }',
        "visualization": {
            "type": "line",
            "path": "metric.series",
            "x": "bucket",
            "y": "groups.value",
            "series": "groups.key",
        },
    },
    {
        "title": "Orders placed by region, last 24 h",
        "query": '{ metric(name: "orders.placed") { aggregate(aggregation: SUM, '
        'groupBy: ["region"]) { key value } } }',
        "visualization": {"type": "bar", "path": "metric.aggregate", "x": "key", "y": "value"},
    },
]

_FIND = "{ dashboards { id name } }"
_CREATE = "mutation($input: DashboardInput!) { createDashboard(input: $input) { id } }"
_UPDATE = (
    "mutation($id: ID!, $input: DashboardInput!) { updateDashboard(id: $id, input: $input) { id } }"
)


async def _run(context: GatewayContext, query: str, variables: dict[str, Any] | None = None) -> Any:
    result = await schema.execute(
        query, variable_values=variables, context_value={"gateway": context}
    )
    if result.errors:
        raise RuntimeError(f"the demo dashboard was refused: {result.errors[0].message}")
    return result.data


async def save(db: Database, settings: Settings) -> str:
    """Save (or refresh) the public demo dashboard, as the admin; one summary line."""
    context = GatewayContext(db, settings)
    board = {
        "name": NAME,
        "description": "products, endpoints, models and custom metrics at a glance",
        "isPublic": True,
        "widgets": WIDGETS,
    }
    found = [d["id"] for d in (await _run(context, _FIND))["dashboards"] if d["name"] == NAME]
    if found:
        await _run(context, _UPDATE, {"id": found[0], "input": board})
        return f"dashboard {NAME!r} updated ({len(WIDGETS)} widgets, id {found[0]})"
    saved = (await _run(context, _CREATE, {"input": board}))["createDashboard"]["id"]
    return f"dashboard {NAME!r} saved ({len(WIDGETS)} widgets, id {saved})"
