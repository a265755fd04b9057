"""Model metrics under a list of models cost a constant number of statements."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import approx_metrics, ingest_predictions, prediction, regression_metrics

LIST = """
{ models(first: 50) { nodes {
  id
  all: performance { predictionCount rmse }
  newest: performance(version: "latest") { predictionCount mae }
} } }
"""


def prediction_sql(statements):
    return [s for s in statements.statements if "predictions" in s]


@pytest.mark.parametrize("models", [2, 12])
async def test_performance_of_every_listed_model_costs_three_statements(
    gql, now, statements, models
):
    rows = []
    for n in range(models):
        for hours, version in ((3, "v1"), (2, "v1"), (1, f"v{n + 2}")):
            rows.append(
                prediction(
                    now - timedelta(hours=hours),
                    float(n + hours),
                    float(n),
                    modelId=f"m{n:02d}",
                    modelVersion=version,
                )
            )
    await ingest_predictions(gql, rows, now)
    statements.statements.clear()
    nodes = (await gql(LIST, now=now))["models"]["nodes"]
    # The catalog page, the metrics of all versions, and for "latest": the lookup
    # of each model's newest version (in the model_versions catalog, not the raw
    # predictions) plus the by-version metrics it picks from.
    assert len(statements.statements) == 4
    catalog = [s for s in statements.statements if "model_versions" in s]
    assert len(catalog) == 1
    assert len([s for s in prediction_sql(statements) if s not in catalog]) == 2
    for n, node in enumerate(nodes):
        mine = [(r["predictedValue"], r["actualValue"]) for r in rows if r["modelId"] == node["id"]]
        expected = regression_metrics(mine)
        assert node["all"] == approx_metrics({"predictionCount": 3, "rmse": expected["rmse"]})
        newest = regression_metrics(mine[-1:])
        assert node["newest"] == approx_metrics({"predictionCount": 1, "mae": newest["mae"]})
        assert node["id"] == f"m{n:02d}"


async def test_only_selected_model_measures_reach_sql(gql, now, statements):
    await ingest_predictions(gql, [prediction(now - timedelta(minutes=5), 2.0, 1.0)], now)
    statements.statements.clear()
    data = await gql('{ model(id: "eta") { performance { predictionCount } } }', now=now)
    assert data["model"]["performance"] == {"predictionCount": 1}
    [sql] = prediction_sql(statements)
    assert "sqrt" not in sql
    assert "avg(" not in sql
