"""A token with resourceIds sees and writes only those products, endpoints and
models: lists, lookups, search, stats and the quarantine, and ingest per row."""

from __future__ import annotations

from datetime import timedelta

from resolvers.access import APPEND, READ, Principal
from tests.factories import (
    INGEST_API_REQUESTS,
    INGEST_PREDICTIONS,
    INGEST_PRODUCT_EVENTS,
    RECORD_ACTUALS,
    RECORD_METRICS,
    api_request,
    metric_sample,
    prediction,
    product_event,
)

MINE = {"shop", "/api/mine", "eta", "mine.latency"}
CONFINED = Principal(token_id="t", scopes=frozenset({READ, APPEND}), resource_ids=frozenset(MINE))


async def _two_of_each(gql, now):
    """One visible and one invisible product, endpoint and model (plus a rejected row each)."""
    at = now - timedelta(minutes=1)
    await gql(
        INGEST_PRODUCT_EVENTS,
        {
            "events": [
                product_event(at),
                product_event(at, productId="other"),
                product_event(at, productId="other", eventType=""),
            ]
        },
        now=now,
    )
    await gql(
        INGEST_API_REQUESTS,
        {
            "requests": [
                api_request(at, endpoint="/api/mine"),
                api_request(at, endpoint="/api/other"),
            ]
        },
        now=now,
    )
    await gql(
        INGEST_PREDICTIONS,
        {
            "predictions": [
                prediction(at, 1.0, predictionId="mine-1"),
                prediction(at, 2.0, modelId="other", predictionId="other-1"),
            ]
        },
        now=now,
    )
    await gql(
        RECORD_METRICS,
        {"samples": [metric_sample(name="mine.latency"), metric_sample(name="other.latency")]},
    )


async def test_lists_hold_only_the_tokens_resources_with_matching_totals(gql, now):
    await _two_of_each(gql, now)
    document = """{
      products { nodes { id } totalCount }
      endpoints { nodes { name } totalCount }
      models { nodes { id } totalCount }
    }"""
    data = await gql(document, principal=CONFINED)
    assert data["products"] == {"nodes": [{"id": "shop"}], "totalCount": 1}
    assert data["endpoints"] == {"nodes": [{"name": "/api/mine"}], "totalCount": 1}
    assert data["models"] == {"nodes": [{"id": "eta"}], "totalCount": 1}
    everything = await gql(document)
    assert everything["products"]["totalCount"] == 2


async def test_search_never_finds_another_resource(gql, now):
    await _two_of_each(gql, now)
    data = await gql('{ products(search: "o") { nodes { id } totalCount } }', principal=CONFINED)
    assert data["products"] == {"nodes": [{"id": "shop"}], "totalCount": 1}


async def test_a_direct_lookup_of_another_resource_is_null(gql, now):
    await _two_of_each(gql, now)
    document = """{
      mine: product(id: "shop") { id } other: product(id: "other") { id }
      mineE: endpoint(name: "/api/mine") { name } otherE: endpoint(name: "/api/other") { name }
      mineM: model(id: "eta") { id } otherM: model(id: "other") { id }
    }"""
    data = await gql(document, principal=CONFINED)
    assert data == {
        "mine": {"id": "shop"},
        "other": None,
        "mineE": {"name": "/api/mine"},
        "otherE": None,
        "mineM": {"id": "eta"},
        "otherM": None,
    }


async def test_stats_count_only_what_the_token_may_see(gql, now):
    await _two_of_each(gql, now)
    fields = (
        "productEvents apiRequests predictions metricSamples products endpoints models quarantined"
    )
    confined = (await gql(f"{{ stats {{ {fields} }} }}", principal=CONFINED))["stats"]
    assert confined == {
        "productEvents": 1,
        "apiRequests": 1,
        "predictions": 1,
        "metricSamples": 1,
        "products": 1,
        "endpoints": 1,
        "models": 1,
        "quarantined": 0,  # the one rejected row is of "other"
    }
    everything = (await gql(f"{{ stats {{ {fields} }} }}"))["stats"]
    assert everything["productEvents"] == 2
    assert everything["quarantined"] == 1


async def test_the_quarantine_shows_only_rows_of_the_tokens_resources(gql, now):
    at = now - timedelta(minutes=1)
    await gql(
        INGEST_PRODUCT_EVENTS,
        {
            "events": [
                product_event(at, eventType=""),
                product_event(at, productId="other", eventType=""),
            ]
        },
        now=now,
    )
    document = "{ quarantine { nodes { raw } totalCount } }"
    confined = (await gql(document, principal=CONFINED))["quarantine"]
    assert [n["raw"]["productId"] for n in confined["nodes"]] == ["shop"]
    assert confined["totalCount"] == 1
    assert (await gql(document))["quarantine"]["totalCount"] == 2


async def test_ingest_rows_of_other_resources_are_rejected_per_row_and_the_rest_stored(gql, now):
    at = now - timedelta(minutes=1)
    cases = [
        (
            INGEST_PRODUCT_EVENTS,
            "events",
            [product_event(at), product_event(at, productId="other")],
            "productId",
        ),
        (
            INGEST_API_REQUESTS,
            "requests",
            [api_request(at, endpoint="/api/mine"), api_request(at, endpoint="/api/other")],
            "endpoint",
        ),
        (
            INGEST_PREDICTIONS,
            "predictions",
            [prediction(at, 1.0), prediction(at, 1.0, modelId="other")],
            "modelId",
        ),
        (
            RECORD_METRICS,
            "samples",
            [metric_sample(name="mine.latency"), metric_sample(name="x")],
            "name",
        ),
    ]
    for document, argument, rows, field in cases:
        result = await gql(document, {argument: rows}, now=now, principal=CONFINED)
        [outcome] = result.values()
        assert outcome["accepted"] == 1, (argument, outcome)
        [rejected] = outcome["rejected"]
        assert (rejected["index"], rejected["field"]) == (1, field)
        assert "may not write" in rejected["message"]


async def test_actuals_for_predictions_of_another_model_are_rejected(gql, now):
    await _two_of_each(gql, now)  # predictions mine-1 (model eta) and other-1 (model other)
    actuals = [
        {"predictionId": "other-1", "actualValue": 5.0},
        {"predictionId": "mine-1", "actualValue": 3.0},
        {"predictionId": "missing", "actualValue": 3.0},
    ]
    outcome = (await gql(RECORD_ACTUALS, {"actuals": actuals}, now=now, principal=CONFINED))[
        "recordActuals"
    ]
    assert outcome["accepted"] == 1
    assert [(r["index"], r["field"]) for r in outcome["rejected"]] == [
        (0, "predictionId"),
        (2, "predictionId"),
    ]
    labeled = await gql('{ model(id: "other") { performance { labeledCount } } }')
    assert labeled["model"]["performance"]["labeledCount"] == 0
