"""The benchmark's own pieces on small data: its rows are valid, its questions answer."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from bench.generate import KINDS, generate
from bench.measure import percentile
from bench.queries import QUESTIONS, render
from bench.server import libpq
from gateway.load import load_file, plan


async def test_generated_rows_of_every_kind_are_all_accepted(db, tmp_path):
    end = datetime.now(UTC).replace(microsecond=0)
    for kind in KINDS:
        path = generate(kind, 1_500, end, tmp_path, workers=1)
        summary = await load_file(db, plan(path, kind, "ndjson"), timedelta(minutes=5))
        assert (summary.accepted, summary.duplicates, summary.rejected) == (1_500, 0, 0), kind


async def test_every_question_answers_over_graphql_and_as_sql(db, gql, database_url, tmp_path):
    end = datetime.now(UTC).replace(microsecond=0)
    for kind in KINDS:
        path = generate(kind, 600, end, tmp_path, workers=1)
        await load_file(db, plan(path, kind, "ndjson"), timedelta(minutes=5))
    pick = random.Random(3)
    with psycopg.connect(libpq(database_url)) as sql:
        for call, question in enumerate(QUESTIONS):
            params = question.params(pick, end, call)
            assert await gql(render(question, params)), question.name
            sql.execute(question.sql, params).fetchall()


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [([1.0, 2.0, 3.0, 4.0], 0.5, 2.5), ([5.0], 0.95, 5.0), ([0.0, 10.0], 0.95, 9.5)],
)
def test_percentiles_are_continuous_as_percentile_cont(values, fraction, expected):
    assert percentile(values, fraction) == pytest.approx(expected)
