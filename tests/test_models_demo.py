"""The demo's models: two versions each over ten days, and drift with both answers."""

from __future__ import annotations

from gateway.demo import models as demo

DRIFT = """
{ models { nodes {
  id versions environments
  drift { rmseChange predictionPsi isDrifting recent { predictionCount labeledCount } }
} } }
"""


async def test_demo_models_show_one_drifting_and_one_stable_model(db, gql, now):
    summary = await demo.load(db, now)
    assert "0 rejected" in summary
    nodes = {n["id"]: n for n in (await gql(DRIFT, now=now))["models"]["nodes"]}
    assert set(nodes) == set(demo.MODELS)
    for model_id, model in demo.MODELS.items():
        node = nodes[model_id]
        assert node["versions"] == list(reversed(model.versions))
        assert node["environments"] == ["production", "staging"]
        recent = node["drift"]["recent"]
        assert 0 < recent["labeledCount"] < recent["predictionCount"]
    drifting, stable = nodes["delivery-eta"]["drift"], nodes["demand-forecast"]["drift"]
    assert drifting["isDrifting"] is True
    assert drifting["predictionPsi"] > 0.2
    assert stable["isDrifting"] is False
    assert stable["predictionPsi"] < 0.2
    assert stable["rmseChange"] < 0.2


async def test_demo_reload_on_the_same_day_stores_nothing_twice(db, now):
    await demo.load(db, now)
    again = await demo.load(db, now)
    assert again.startswith("predictions (2 models, 10 days): 0 stored")
    assert "late actuals: 0 stored" in again
