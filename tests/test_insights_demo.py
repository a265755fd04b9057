"""The demo's incidents show up as insights under the default windows: the last day
against the week before."""

from __future__ import annotations

from gateway.demo import endpoints, products
from tests.factories import INSIGHT_FIELDS

ENDPOINT_INSIGHTS = f"{{ endpoints {{ nodes {{ name insights {{ {INSIGHT_FIELDS} }} }} }} }}"
PRODUCT_INSIGHTS = f"{{ product(id: $id) {{ insights {{ {INSIGHT_FIELDS} }} }} }}"


def slices(insight):
    return [(c["dimension"], c["value"]) for c in insight["causes"]]


async def test_demo_endpoint_incidents_are_regressions_explained_by_ap_south(db, gql, now):
    await endpoints.load(db, now)
    nodes = (await gql(ENDPOINT_INSIGHTS, now=now))["endpoints"]["nodes"]
    found = {n["name"]: n["insights"] for n in nodes}
    [payments] = found[endpoints.DECLINING_ENDPOINT]
    [search] = found[endpoints.SLOW_ENDPOINT]
    assert (payments["measure"], search["measure"]) == ("errorRate", "p95LatencyMs")
    for insight in (payments, search):
        assert insight["direction"] == "REGRESSION"
        assert ("REGION", "ap-south") in slices(insight)
        assert "; REGION ap-south " in insight["message"]
    assert payments["recommendation"].startswith(
        "CARD_DECLINED is the most common failure in REGION ap-south: "
    )
    assert search["recommendation"].startswith("Profile REGION ap-south first")
    assert [
        n["insights"]
        for n in nodes
        if n["name"] not in (endpoints.DECLINING_ENDPOINT, endpoints.SLOW_ENDPOINT)
    ] == [[], []]


async def test_demo_product_incident_names_mobile_to_test_first(db, gql, now):
    await products.load(db, now)
    query = "query($id: ID!) " + PRODUCT_INSIGHTS
    [insight] = (await gql(query, {"id": products.SLOW_PRODUCT}, now=now))["product"]["insights"]
    assert (insight["measure"], insight["direction"]) == ("p95PageLoadTimeMs", "REGRESSION")
    assert ("DEVICE_TYPE", "mobile") in slices(insight)
    assert insight["recommendation"].startswith("Test on mobile first: ")
    everything = (await gql("{ insights { targetId } }", now=now))["insights"]
    assert everything == [{"targetId": products.SLOW_PRODUCT}]
