"""partitions, identity keys, rollups, row counts

Fact tables become PARTITION BY RANGE (ts) with a DEFAULT partition and a
primary key of (entity, id, ts); their rows are copied over. Hourly rollups
and row counts are built from the rows already stored.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from db.facts.all import FACTS
from db.rolled import backfill
from db.rollups import COMPACTED, KEY
from db.sketch import CREATE

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_INDEXES = {
    "product_events": ["ix_product_events_product_id_ts"],
    "api_requests": ["ix_api_requests_endpoint_ts"],
    "predictions": ["ix_predictions_model_id_environment_ts"],
}


def _received_at() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _set_aside(name: str) -> None:
    op.rename_table(name, f"{name}_0001")
    op.execute(f"ALTER TABLE {name}_0001 RENAME CONSTRAINT pk_{name} TO pk_{name}_0001")
    for index in _OLD_INDEXES[name]:
        op.execute(f"ALTER INDEX {index} RENAME TO {index}_0001")


def _move_rows(name: str, columns: list[str]) -> None:
    op.execute(f"CREATE TABLE {name}_default PARTITION OF {name} DEFAULT")
    listed = ", ".join(columns)
    op.execute(f"INSERT INTO {name} ({listed}) SELECT {listed} FROM {name}_0001")
    op.drop_table(f"{name}_0001")


def _facts() -> None:
    op.create_table(
        "product_events",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("product_id", sa.Text(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("product_name", sa.Text(), nullable=True),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("session_id", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("error_code", sa.Text(), nullable=True),
        sa.Column("page_load_time_ms", sa.Float(), nullable=True),
        sa.Column("api_latency_ms", sa.Float(), nullable=True),
        sa.Column("is_error", sa.Boolean(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("device_type", sa.Text(), nullable=True),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column("properties", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        _received_at(),
        sa.PrimaryKeyConstraint("product_id", "event_id", "ts", name=op.f("pk_product_events")),
        postgresql_partition_by="RANGE (ts)",
    )
    op.create_index(op.f("ix_product_events_product_id_ts"), "product_events", ["product_id", "ts"])
    op.create_index(
        op.f("ix_product_events_product_id_user_id_ts"),
        "product_events",
        ["product_id", "user_id", "ts"],
    )
    op.create_table(
        "api_requests",
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("device_type", sa.Text(), nullable=True),
        sa.Column("document_type", sa.Text(), nullable=True),
        sa.Column("error_reason", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("session_id", sa.Text(), nullable=True),
        _received_at(),
        sa.PrimaryKeyConstraint("endpoint", "request_id", "ts", name=op.f("pk_api_requests")),
        postgresql_partition_by="RANGE (ts)",
    )
    op.create_index(op.f("ix_api_requests_endpoint_ts"), "api_requests", ["endpoint", "ts"])
    op.create_table(
        "predictions",
        sa.Column("prediction_id", sa.Text(), nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("environment", sa.Text(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("features", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("predicted_value", sa.Float(), nullable=False),
        sa.Column("actual_value", sa.Float(), nullable=True),
        sa.Column("actual_at", sa.DateTime(timezone=True), nullable=True),
        _received_at(),
        sa.PrimaryKeyConstraint("model_id", "prediction_id", "ts", name=op.f("pk_predictions")),
        postgresql_partition_by="RANGE (ts)",
    )
    op.create_index(
        op.f("ix_predictions_model_id_environment_ts"),
        "predictions",
        ["model_id", "environment", "ts"],
    )
    op.create_index(op.f("ix_predictions_prediction_id"), "predictions", ["prediction_id"])


def _rollup_tables() -> None:
    for fact in FACTS:
        for grain in fact.rollup.grains if fact.rollup is not None else ():
            stored = grain.table
            # Keyed as they were then: 0008 makes them appended to, with compaction.
            op.create_table(
                stored.name,
                *[
                    sa.Column(c.name, c.type, nullable=c.nullable)
                    for c in stored.columns
                    if c.name != COMPACTED
                ],
                sa.PrimaryKeyConstraint(*KEY, name=op.f(f"pk_{stored.name}")),
            )
    op.create_table(
        "row_counts",
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", "slot", name=op.f("pk_row_counts")),
    )


def upgrade() -> None:
    for statement in CREATE:
        op.execute(statement)
    columns = {
        name: [c["name"] for c in sa.inspect(op.get_bind()).get_columns(name)]
        for name in _OLD_INDEXES
    }
    for name in _OLD_INDEXES:
        _set_aside(name)
    _facts()
    for name in _OLD_INDEXES:
        _move_rows(name, columns[name])
    _rollup_tables()
    for fact in FACTS:
        if fact.rollup is not None:
            for statement in backfill(fact):
                op.execute(statement)
    for name in (*_OLD_INDEXES, "metric_samples"):
        op.execute(f"INSERT INTO row_counts SELECT '{name}', 0, count(*) FROM {name}")


def downgrade() -> None:
    raise NotImplementedError("the facts stay partitioned: restore a 0001 backup instead")
