"""Every table of the gateway, declared once; Alembic migrations mirror this."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


# Identity rule: a fact row is its entity, its id and its timestamp (a retried
# send repeats all three); each fact table's primary key says so, leading with
# the entity so the table can be distributed by it, and including the
# partition key ts. Ingest derives its conflict target from this key.


def _ts(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


# ------------------------------------------------------------------ products

# The columns the product events' rollups are computed from, besides the product and
# the time (tests/test_fact_declarations.py keeps them so).
PRODUCT_EVENTS_COVERED = (
    "is_error",
    "page_load_time_ms",
    "api_latency_ms",
    "duration_ms",
    "user_id",
    "country",
    "device_type",
    "event_type",
    "source",
)

product_events = Table(
    "product_events",
    metadata,
    Column("event_id", Text, nullable=False),
    Column("product_id", Text, nullable=False),
    _ts("ts"),
    Column("product_name", Text),
    Column("event_type", Text, nullable=False),
    Column("user_id", Text),
    Column("session_id", Text),
    Column("duration_ms", Float),
    Column("error_code", Text),
    Column("page_load_time_ms", Float),
    Column("api_latency_ms", Float),
    Column("is_error", Boolean, nullable=False),
    Column("source", Text),
    Column("device_type", Text),
    Column("country", Text),
    Column("properties", JSONB),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Covering: the raw edges of a question answered from rollups are read from the
    # index alone (migration 0011).
    Index(None, "product_id", "ts", postgresql_include=list(PRODUCT_EVENTS_COVERED)),
    Index(None, "product_id", "user_id", "ts"),  # funnels
    PrimaryKeyConstraint("product_id", "event_id", "ts"),
    postgresql_partition_by="RANGE (ts)",
)

products = Table(
    "products",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text),
    Column("name_seen_at", DateTime(timezone=True)),
    _ts("first_seen"),
    _ts("last_seen"),
)

# ------------------------------------------------------------------ endpoints

api_requests = Table(
    "api_requests",
    metadata,
    Column("request_id", Text, nullable=False),
    Column("endpoint", Text, nullable=False),
    _ts("ts"),
    Column("method", Text, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("region", Text),
    Column("device_type", Text),
    Column("document_type", Text),
    Column("error_reason", Text),
    Column("user_id", Text),
    Column("session_id", Text),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(None, "endpoint", "ts"),
    PrimaryKeyConstraint("endpoint", "request_id", "ts"),
    postgresql_partition_by="RANGE (ts)",
)

endpoints = Table(
    "endpoints",
    metadata,
    Column("name", Text, primary_key=True),
    _ts("first_seen", nullable=True),
    _ts("last_seen", nullable=True),
    Column("avg_order_value", Float),
    Column("cost_per_request", Float),
    Column("revenue_critical", Boolean, nullable=False, server_default=text("false")),
    Column("configured_at", DateTime(timezone=True)),
)

# ------------------------------------------------------------------ models

predictions = Table(
    "predictions",
    metadata,
    Column("prediction_id", Text, nullable=False),
    Column("model_id", Text, nullable=False),
    Column("model_version", Text, nullable=False),
    Column("environment", Text, nullable=False),
    _ts("ts"),
    Column("features", JSONB),
    Column("predicted_value", Float, nullable=False),
    Column("actual_value", Float),
    Column("actual_at", DateTime(timezone=True)),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Covering: drift and model metrics read a week of one model from the index alone.
    Index(
        None,
        "model_id",
        "environment",
        "ts",
        postgresql_include=["model_version", "predicted_value", "actual_value"],
    ),
    Index(None, "prediction_id"),  # recordActuals addresses a prediction by its id alone
    PrimaryKeyConstraint("model_id", "prediction_id", "ts"),
    postgresql_partition_by="RANGE (ts)",
)

models = Table(
    "models",
    metadata,
    Column("id", Text, primary_key=True),
    _ts("first_seen"),
    _ts("last_seen"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("model_id", Text, nullable=False),
    Column("environment", Text, nullable=False),
    Column("version", Text, nullable=False),
    _ts("first_seen"),
    _ts("last_seen"),
    PrimaryKeyConstraint("model_id", "environment", "version"),
)

# ------------------------------------------------------------------ custom metrics

metric_samples = Table(
    "metric_samples",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("value", Float, nullable=False),
    _ts("ts"),
    Column("tags", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("unit", Text),
    Column("source", Text),
    Index(None, "name", "ts"),
)

# ------------------------------------------------------------------ quarantine

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("kind", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("row_index", Integer),
    Column("field", Text),
    Column("message", Text, nullable=False),
    Column("raw", JSONB, nullable=False),
    Index(None, "received_at", "id"),
    Index(None, "kind", "received_at", "id"),
)

# ------------------------------------------------------------------ dashboards (issue 14)

# Tag filters are JSONB containment (tags @> ...), which a GIN index answers.
Index(None, metric_samples.c.tags, postgresql_using="gin")

dashboards = Table(
    "dashboards",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("description", Text),
    # The creating token's id; null when the admin secret created it.
    Column("owner", Text),
    Column("is_public", Boolean, nullable=False, server_default=text("false")),
    # [{id, title, query, variables, visualization, refresh_seconds}], in display order.
    Column("widgets", JSONB, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
    Index(None, "owner"),
)

# ------------------------------------------------------------------ alerts

alerts = Table(
    "alerts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("target_id", Text, nullable=False),
    Column("measure", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("condition", Text, nullable=False),
    Column("threshold", Float),
    Column("window_minutes", Integer, nullable=False),
    Column("sensitivity", Float, nullable=False),
    Column("baseline_windows", Integer, nullable=False),
    Column("channels", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("enabled", Boolean, nullable=False),
    Column("state", Text, nullable=False, server_default=text("'OK'")),
    Column("last_value", Float),
    _ts("last_evaluated_at", nullable=True),
    _ts("last_triggered_at", nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The token that created the alert (null: the admin secret or no token at all).
    Column("owner", Text),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("alert_id", BigInteger, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    _ts("at"),
    Column("state", Text, nullable=False),
    Column("value", Float),
    Column("message", Text, nullable=False),
    Index(None, "alert_id", "id"),
)

# ------------------------------------------------------------------ scale

# Exact row counts of the fact tables without counting rows on every call:
# each batch adds what it inserted and retention subtracts what it dropped,
# each on one of a few slots so that concurrent batches rarely wait for each other.
row_counts = Table(
    "row_counts",
    metadata,
    Column("table_name", Text, nullable=False),
    Column("slot", Integer, nullable=False),
    Column("rows", BigInteger, nullable=False),
    PrimaryKeyConstraint("table_name", "slot"),
)

# ------------------------------------------------------------------ access (issue 13)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    # sha256 of the secret; the secret itself is never stored.
    Column("secret_hash", Text, nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    Column("resource_ids", ARRAY(Text)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Index(None, "secret_hash", unique=True),
)

persisted_queries = Table(
    "persisted_queries",
    metadata,
    Column("sha256", Text, primary_key=True),
    Column("document", Text, nullable=False),
    # Registered by an ADMIN: the allow-list GATEWAY_PERSISTED_ONLY executes.
    Column("allowed", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
