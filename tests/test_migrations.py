"""The Alembic migrations build exactly the tables db/tables.py declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from db.facts.all import FACTS
from db.migrate import alembic_config, include_object
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
