"""The Alembic migrations build exactly the tables db/tables.py declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from db.migrate import alembic_config
from db.tables import metadata


async def test_migrations_match_the_declared_tables(db):
    def differences(sync_conn):
        return compare_metadata(MigrationContext.configure(sync_conn), metadata)

    async with db.read() as conn:
        assert await conn.run_sync(differences) == []


def test_migrations_have_a_single_head():
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1
