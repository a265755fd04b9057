"""Every scope against every kind of operation: ADMIN does everything, READ
queries and subscribes, APPEND only ingests. Cells for surfaces other branches
build (dashboards, alerts, subscriptions, the NDJSON path) are written against
the contract's names and skip until the served app has them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from resolvers.access import Principal
from resolvers.context import GatewayContext
from schema.root import schema
from tests.factories import (
    INGEST_API_REQUESTS,
    INGEST_PREDICTIONS,
    INGEST_PRODUCT_EVENTS,
    RECORD_ACTUALS,
    RECORD_METRICS,
    api_request,
    bearer,
    create_token,
    metric_sample,
    prediction,
    product_event,
)

NOW = datetime.now(UTC)
ALL, READERS, WRITERS, ADMINS = (
    {"ADMIN", "READ", "APPEND"},
    {"ADMIN", "READ"},
    {"ADMIN", "APPEND"},
    {"ADMIN"},
)

# name: (document, variables, scopes allowed, root field the served schema must have)
GRAPHQL_CELLS: dict[str, tuple[str, dict[str, Any] | None, set[str], str]] = {
    "query": ("{ products { totalCount } stats { products } }", None, READERS, "Query.products"),
    "ingestProductEvents": (
        INGEST_PRODUCT_EVENTS,
        {"events": [product_event(NOW - timedelta(minutes=1))]},
        WRITERS,
        "Mutation.ingestProductEvents",
    ),
    "ingestApiRequests": (
        INGEST_API_REQUESTS,
        {"requests": [api_request(NOW - timedelta(minutes=1))]},
        WRITERS,
        "Mutation.ingestApiRequests",
    ),
    "ingestPredictions": (
        INGEST_PREDICTIONS,
        {"predictions": [prediction(NOW - timedelta(minutes=1), 1.0)]},
        WRITERS,
        "Mutation.ingestPredictions",
    ),
    "recordActuals": (
        RECORD_ACTUALS,
        {"actuals": [{"predictionId": "p-none", "actualValue": 1.0}]},
        WRITERS,
        "Mutation.recordActuals",
    ),
    "recordMetrics": (
        RECORD_METRICS,
        {"samples": [metric_sample()]},
        WRITERS,
        "Mutation.recordMetrics",
    ),
    "configureEndpoint": (
        'mutation { configureEndpoint(input: {name: "/x"}) { name } }',
        None,
        ADMINS,
        "Mutation.configureEndpoint",
    ),
    "apiTokens": ("{ apiTokens { id } }", None, ADMINS, "Query.apiTokens"),
    "createApiToken": (
        'mutation { createApiToken(input: {name: "n", scopes: [READ]}) { secret } }',
        None,
        ADMINS,
        "Mutation.createApiToken",
    ),
    "revokeApiToken": (
        'mutation { revokeApiToken(id: "nope") }',
        None,
        ADMINS,
        "Mutation.revokeApiToken",
    ),
    "dashboards": ("{ dashboards { id } }", None, READERS, "Query.dashboards"),
    "alerts": ("{ alerts { id } }", None, READERS, "Query.alerts"),
}


def _served(root_field: str) -> bool:
    type_name, field = root_field.split(".")
    root = schema._schema.get_type(type_name)
    return root is not None and field in getattr(root, "fields", {})


@pytest.fixture
async def secrets_by_scope(client) -> dict[str, str]:
    return {
        scope: (await create_token(client, scopes=[scope]))[0]
        for scope in ("ADMIN", "READ", "APPEND")
    }


@pytest.mark.parametrize("cell", sorted(GRAPHQL_CELLS))
async def test_each_scope_may_do_exactly_its_operations(client, secrets_by_scope, cell):
    document, variables, allowed, root_field = GRAPHQL_CELLS[cell]
    if not _served(root_field):
        pytest.skip(f"{root_field} is not served on this branch yet (built by another issue)")
    outcomes = {}
    for scope, secret in secrets_by_scope.items():
        response = await client.post(
            "/graphql", json={"query": document, "variables": variables}, headers=bearer(secret)
        )
        assert response.status_code == 200
        codes = {e["extensions"]["code"] for e in response.json().get("errors", [])}
        outcomes[scope] = "FORBIDDEN" not in codes and "UNAUTHENTICATED" not in codes
        assert codes <= {"FORBIDDEN"} or outcomes[scope], (scope, codes)
    assert {s for s, ok in outcomes.items() if ok} == allowed


async def test_subscriptions_need_read(db, settings):
    if not _served("Subscription.productMetrics"):
        pytest.skip("subscriptions are not served on this branch yet (built by another issue)")
    document = 'subscription { productMetrics(productId: "p") { totalEvents } }'
    allowed = set()
    for scope in ("ADMIN", "READ", "APPEND"):
        principal = Principal(token_id=scope, scopes=frozenset({scope}))
        context = {"gateway": GatewayContext(db, settings, principal=principal)}
        stream = await schema.subscribe(document, context_value=context)
        first = await anext(stream) if hasattr(stream, "__anext__") else stream
        if hasattr(stream, "aclose"):
            await stream.aclose()
        codes = {(e.extensions or {}).get("code") for e in getattr(first, "errors", None) or []}
        if "FORBIDDEN" not in codes:
            allowed.add(scope)
    assert allowed == READERS


async def test_the_ndjson_path_needs_append(client, secrets_by_scope):
    line = json.dumps(product_event(NOW - timedelta(minutes=1))) + "\n"
    statuses = {}
    for scope, secret in secrets_by_scope.items():
        response = await client.post(
            "/v0/events", params={"name": "product_events"}, content=line, headers=bearer(secret)
        )
        statuses[scope] = response.status_code
    assert statuses["READ"] == 403
    assert statuses["APPEND"] < 300
    assert statuses["ADMIN"] < 300
