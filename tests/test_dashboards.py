"""Saved dashboards: round trip, validation on save, access, and running widgets."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from resolvers.access import ADMIN, READ, Principal
from resolvers.context import GatewayContext
from schema.root import schema
from tests.factories import ingest_product_events, iso, product_events_mix

FIELDS = (
    "id name description isPublic createdAt updatedAt "
    "widgets { id title query variables visualization refreshSeconds }"
)
CREATE = f"mutation($input: DashboardInput!) {{ createDashboard(input: $input) {{ {FIELDS} }} }}"
UPDATE = (
    "mutation($id: ID!, $input: DashboardInput!) "
    f"{{ updateDashboard(id: $id, input: $input) {{ {FIELDS} }} }}"
)
DELETE = "mutation($id: ID!) { deleteDashboard(id: $id) }"
READ_ONE = f"query($id: ID!) {{ dashboard(id: $id) {{ {FIELDS} }} }}"
READ_ALL = "{ dashboards { id name } }"
DATA = "query($id: ID!) { dashboard(id: $id) { widgets { title data } } }"

PRODUCTS = """query($range: TimeRange) { products { nodes { id
  overview(range: $range) { totalEvents errorRate uniqueUsers }
  breakdown(by: COUNTRY, range: $range) { value metrics { totalEvents } } } } }"""

ALICE = Principal(token_id="alice", scopes=frozenset({READ}))
BOB = Principal(token_id="bob", scopes=frozenset({READ}))
ROOT = Principal(token_id=None, scopes=frozenset({ADMIN}))


async def run(
    db: Any,
    settings: Any,
    principal: Principal,
    query: str,
    variables: dict[str, Any] | None = None,
) -> Any:
    """Execute as principal; the whole result (data and errors)."""
    context = GatewayContext(db, settings, principal=principal)
    return await schema.execute(
        query, variable_values=variables, context_value={"gateway": context}
    )


async def ok(
    db: Any, settings: Any, principal: Principal, query: str, variables: Any = None
) -> Any:
    result = await run(db, settings, principal, query, variables)
    assert result.errors is None, result.errors
    return result.data


def widget(title: str, query: str, **fields: Any) -> dict[str, Any]:
    return {"title": title, "query": query, **fields}


def dashboard(*widgets: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": "Health", "widgets": list(widgets), **fields}


async def test_dashboard_round_trip_keeps_every_field(db: Any, settings: Any) -> None:
    given = dashboard(
        widget("events", PRODUCTS, variables={"range": None}, visualization={"type": "bar"}),
        widget("stats", "{ stats { productEvents } }", refreshSeconds=5),
        description="team board",
        isPublic=True,
    )
    created = (await ok(db, settings, ALICE, CREATE, {"input": given}))["createDashboard"]
    assert (created["name"], created["description"]) == ("Health", "team board")
    assert created["isPublic"] is True
    assert [
        (w["title"], w["query"], w["variables"], w["visualization"], w["refreshSeconds"])
        for w in created["widgets"]
    ] == [
        ("events", PRODUCTS, {"range": None}, {"type": "bar"}, 60),
        ("stats", "{ stats { productEvents } }", None, None, 5),
    ]
    read = (await ok(db, settings, ALICE, READ_ONE, {"id": created["id"]}))["dashboard"]
    assert read == created

    changed = dashboard(widget("only", "{ stats { products } }"), name="Renamed")
    updated = await ok(db, settings, ALICE, UPDATE, {"id": created["id"], "input": changed})
    updated = updated["updateDashboard"]
    assert (updated["name"], updated["isPublic"], updated["createdAt"]) == (
        "Renamed",
        False,
        created["createdAt"],
    )
    assert [w["title"] for w in updated["widgets"]] == ["only"]
    assert (await ok(db, settings, ALICE, READ_ALL))["dashboards"] == [
        {"id": created["id"], "name": "Renamed"}
    ]
    assert (await ok(db, settings, ALICE, DELETE, {"id": created["id"]}))["deleteDashboard"]
    assert (await ok(db, settings, ALICE, READ_ONE, {"id": created["id"]}))["dashboard"] is None
    assert not (await ok(db, settings, ALICE, DELETE, {"id": created["id"]}))["deleteDashboard"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ products { nodes { id ", "Syntax Error"),
        ("{ products { nodes { nope } } }", "Cannot query field 'nope'"),
        ('mutation { deleteDashboard(id: "x") }', "it is a mutation; only queries may be saved"),
        ("{ dashboards { widgets { data } } }", "may not run other widgets"),
        ("query A { stats { products } } query B { stats { models } }", "exactly one operation"),
    ],
)
async def test_invalid_widget_query_is_refused_naming_the_widget(
    db: Any, settings: Any, query: str, message: str
) -> None:
    given = dashboard(widget("fine", "{ stats { products } }"), widget("bad", query))
    result = await run(db, settings, ALICE, CREATE, {"input": given})
    assert result.data is None
    (error,) = result.errors
    assert error.extensions["code"] == "BAD_USER_INPUT"
    assert "input.widgets[1].query is not a valid query" in error.message
    assert message in error.message
    assert (await ok(db, settings, ROOT, READ_ALL))["dashboards"] == []


async def test_private_dashboards_are_seen_by_owner_and_admin_only(db: Any, settings: Any) -> None:
    private = dashboard(widget("s", "{ stats { products } }"), name="private")
    public = dashboard(widget("s", "{ stats { products } }"), name="public", isPublic=True)
    mine = (await ok(db, settings, ALICE, CREATE, {"input": private}))["createDashboard"]["id"]
    shared = (await ok(db, settings, ALICE, CREATE, {"input": public}))["createDashboard"]["id"]

    assert [d["name"] for d in (await ok(db, settings, BOB, READ_ALL))["dashboards"]] == ["public"]
    assert [d["name"] for d in (await ok(db, settings, ROOT, READ_ALL))["dashboards"]] == [
        "private",
        "public",
    ]
    assert (await ok(db, settings, BOB, READ_ONE, {"id": mine}))["dashboard"] is None
    assert (await ok(db, settings, BOB, DELETE, {"id": mine}))["deleteDashboard"] is False
    refused = await run(db, settings, BOB, UPDATE, {"id": shared, "input": public})
    assert refused.errors[0].extensions["code"] == "FORBIDDEN"
    missing = await run(db, settings, BOB, UPDATE, {"id": mine, "input": public})
    assert missing.errors[0].extensions["code"] == "NOT_FOUND"
    assert (await ok(db, settings, ROOT, DELETE, {"id": mine}))["deleteDashboard"] is True


async def test_widget_data_equals_running_its_query_directly(
    db: Any, settings: Any, gql: Any, now: datetime
) -> None:
    await ingest_product_events(gql, product_events_mix(now, productId="shop"), now)
    variables = {"range": {"from": iso(now - timedelta(days=1)), "to": iso(now)}}
    given = dashboard(
        widget("products", PRODUCTS, variables=variables),
        widget("stats", "{ stats { productEvents products } }"),
    )
    created = (await ok(db, settings, ROOT, CREATE, {"input": given}))["createDashboard"]
    data = (await ok(db, settings, ROOT, DATA, {"id": created["id"]}))["dashboard"]["widgets"]
    assert data[0]["data"] == await ok(db, settings, ROOT, PRODUCTS, variables)
    assert data[1]["data"] == await ok(db, settings, ROOT, "{ stats { productEvents products } }")
    assert data[0]["data"]["products"]["nodes"][0]["overview"]["totalEvents"] == 60


async def test_widgets_run_with_the_callers_rights(
    db: Any, settings: Any, gql: Any, now: datetime
) -> None:
    await ingest_product_events(gql, product_events_mix(now, count=5, productId="a"), now)
    await ingest_product_events(gql, product_events_mix(now, count=5, productId="b"), now)
    query = '{ product(id: "b") { id } }'
    given = dashboard(widget("b", query), isPublic=True)
    created = (await ok(db, settings, ROOT, CREATE, {"input": given}))["createDashboard"]
    confined = Principal(token_id="c", scopes=frozenset({READ}), resource_ids=frozenset({"a"}))
    assert (await ok(db, settings, ROOT, DATA, {"id": created["id"]}))["dashboard"]["widgets"] == [
        {"title": "b", "data": {"product": {"id": "b"}}}
    ]
    seen = (await ok(db, settings, confined, DATA, {"id": created["id"]}))["dashboard"]
    assert seen["widgets"] == [{"title": "b", "data": await ok(db, settings, confined, query)}]


async def test_ten_widgets_over_the_same_products_cost_the_sql_of_one(
    db: Any, settings: Any, gql: Any, now: datetime, statements: Any
) -> None:
    for product in ("shop", "blog", "app"):
        await ingest_product_events(gql, product_events_mix(now, count=20, productId=product), now)
    variables = {"range": {"from": iso(now - timedelta(days=1)), "to": iso(now)}}
    given = dashboard(*[widget(f"w{i}", PRODUCTS, variables=variables) for i in range(10)])
    created = (await ok(db, settings, ROOT, CREATE, {"input": given}))["createDashboard"]

    statements.statements.clear()
    await ok(db, settings, ROOT, PRODUCTS, variables)
    one_widget = len(statements.statements)

    statements.statements.clear()
    data = (await ok(db, settings, ROOT, DATA, {"id": created["id"]}))["dashboard"]["widgets"]
    assert len(data) == 10
    assert all(w["data"] == data[0]["data"] for w in data)
    # One statement reads the dashboard; the widgets share every other statement.
    assert len(statements.statements) == one_widget + 1


async def test_widget_data_runs_over_http_like_a_direct_query(client: Any) -> None:
    query = "{ stats { productEvents metricSamples } }"
    given = dashboard(widget("stats", query), isPublic=True)
    created = await client.post("/graphql", json={"query": CREATE, "variables": {"input": given}})
    board = created.json()["data"]["createDashboard"]["id"]
    read = await client.post("/graphql", json={"query": DATA, "variables": {"id": board}})
    direct = await client.post("/graphql", json={"query": query})
    [shown] = read.json()["data"]["dashboard"]["widgets"]
    assert shown == {"title": "stats", "data": direct.json()["data"]}
