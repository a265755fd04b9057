"""The Alembic migrations build exactly the tables db/tables.py declares."""

from __future__ import annotations

import uuid

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from alembic import command
from db.engine import normalize_url
from db.facts.all import FACTS
from db.facts.predictions import PREDICTIONS
from db.migrate import alembic_config, include_object, upgrade_to_head
from db.tables import metadata


async def test_migrations_match_the_declared_tables(db):
    def differences(sync_conn):
        context = MigrationContext.configure(sync_conn, opts={"include_object": include_object})
        return compare_metadata(context, metadata)

    rollups = [g.table for f in FACTS for g in (f.rollup.grains if f.rollup else ())]
    assert rollups
    assert all(table in metadata.sorted_tables for table in rollups)
    async with db.read() as conn:
        assert await conn.run_sync(differences) == []


def test_migrations_have_a_single_head():
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_0010_gives_a_database_of_0009_its_prediction_rollups_built_from_stored_rows(
    database_url,
):
    # A sibling database on the same server, taken to 0009 as a database of before
    # was: without prediction rollups, with predictions stored.
    server = make_url(normalize_url(database_url))
    name = f"gateway_upgrade_{uuid.uuid4().hex[:8]}"
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    rows = [  # model, environment, version, predicted, actual
        ("eta", "production", "v1", 10.0, 12.0),
        ("eta", "production", "v2", 20.0, None),
        ("eta", "staging", "v1", 5.0, 4.0),
        ("churn", "production", "v1", 0.5, 1.0),
    ]
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "0009")
            conn.execute(text("DROP TABLE predictions_daily, predictions_hourly"))
            for n, (model, environment, version, predicted, actual) in enumerate(rows):
                conn.execute(
                    text(
                        "INSERT INTO predictions (prediction_id, model_id, model_version,"
                        " environment, ts, predicted_value, actual_value) VALUES"
                        " (:id, :model, :version, :environment, now() - interval '1 hour',"
                        " :predicted, :actual)"
                    ),
                    {
                        "id": f"p{n}",
                        "model": model,
                        "version": version,
                        "environment": environment,
                        "predicted": predicted,
                        "actual": actual,
                    },
                )
        upgrade_to_head(url)
        assert PREDICTIONS.rollup is not None
        with engine.connect() as conn:
            for grain in PREDICTIONS.rollup.grains:
                stored = grain.table
                totals = select(
                    stored.c.entity,
                    func.sum(stored.c.predictions),
                    func.sum(stored.c.labeled),
                    func.sum(stored.c.squared_error_sum),
                ).where(stored.c.dimension == "")
                found = {
                    entity: (count, labeled, squared)
                    for entity, count, labeled, squared in conn.execute(
                        totals.group_by(stored.c.entity)
                    )
                }
                assert found == {"eta": (3, 2, 4.0 + 1.0), "churn": (1, 1, 0.25)}, stored.name
                production = select(func.sum(stored.c.predictions)).where(
                    stored.c.entity == "eta",
                    stored.c.dimension == "ENVIRONMENT",
                    stored.c.group_key == "production",
                )
                assert conn.scalar(production) == 2
    finally:
        engine.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
