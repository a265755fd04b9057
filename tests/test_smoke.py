from datetime import timedelta

from tests.factories import INGEST_PRODUCT_EVENTS, product_event


async def test_ingested_event_is_counted_in_overview(gql, now):
    events = [
        product_event(now - timedelta(minutes=1)),
        product_event(now - timedelta(minutes=2), isError=True),
    ]
    data = await gql(INGEST_PRODUCT_EVENTS, {"events": events})
    assert data["ingestProductEvents"]["accepted"] == 2
    data = await gql('{ product(id: "shop") { id overview { totalEvents errorRate } } }')
    assert data["product"]["overview"] == {"totalEvents": 2, "errorRate": 0.5}
