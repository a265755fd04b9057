"""What the gateway counts for Prometheus, and the functions other modules call to count.

One registry for the process. Other surfaces report through the small
functions here (``graphql_request``, ``ingested``, ``subscription_opened`` /
``subscription_closed``) rather than touching prometheus objects.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.pool import Pool

from db.engine import Database

REGISTRY = CollectorRegistry()
# Operation names come from clients; a long or odd one is cut so it cannot bloat a scrape.
_OPERATION_CHARS = 64

GRAPHQL_REQUESTS = Counter(
    "gateway_graphql_requests",
    "GraphQL operations executed, by operation name and outcome (ok or error)",
    ("operation", "outcome"),
    registry=REGISTRY,
)
GRAPHQL_SECONDS = Histogram(
    "gateway_graphql_request_seconds",
    "Time to execute a GraphQL operation, by operation name and outcome",
    ("operation", "outcome"),
    registry=REGISTRY,
)
INGEST_ROWS = Counter(
    "gateway_ingest_rows",
    "Ingested rows by kind and outcome (accepted, duplicate, rejected)",
    ("kind", "outcome"),
    registry=REGISTRY,
)
SUBSCRIPTIONS_OPEN = Gauge(
    "gateway_subscriptions_open", "GraphQL subscriptions open now", registry=REGISTRY
)


def graphql_request(operation: str | None, ok: bool, seconds: float) -> None:
    """Count one executed GraphQL operation and its latency."""
    name = (operation or "anonymous")[:_OPERATION_CHARS]
    outcome = "ok" if ok else "error"
    GRAPHQL_REQUESTS.labels(name, outcome).inc()
    GRAPHQL_SECONDS.labels(name, outcome).observe(seconds)


def ingested(kind: str, accepted: int, duplicates: int, rejected: int) -> None:
    """Count one ingest batch's rows by outcome."""
    INGEST_ROWS.labels(kind, "accepted").inc(accepted)
    INGEST_ROWS.labels(kind, "duplicate").inc(duplicates)
    INGEST_ROWS.labels(kind, "rejected").inc(rejected)


def subscription_opened() -> None:
    """A subscription started streaming."""
    SUBSCRIPTIONS_OPEN.inc()


def subscription_closed() -> None:
    """A subscription ended (completed, cancelled or failed)."""
    SUBSCRIPTIONS_OPEN.dec()


def _waiting(pool: Pool) -> int:
    """Checkouts waiting for a free connection.

    SQLAlchemy has no public count of waiters; the async pool's asyncio.Queue
    keeps them in ``_getters``. Read defensively so a SQLAlchemy change
    reports 0 instead of failing a scrape.
    """
    queue = getattr(getattr(pool, "_pool", None), "_queue", None)
    return len(getattr(queue, "_getters", ()))


class _PoolCollector(Collector):
    """Connections in use and checkouts waiting, summed over the process's databases."""

    def __init__(self) -> None:
        self.databases: weakref.WeakSet[Database] = weakref.WeakSet()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pools = [d.engine.pool for d in self.databases]
        in_use = sum(pool.checkedout() for pool in pools if hasattr(pool, "checkedout"))
        yield GaugeMetricFamily(
            "gateway_db_pool_in_use", "Database connections checked out now", value=in_use
        )
        yield GaugeMetricFamily(
            "gateway_db_pool_waiting",
            "Requests waiting for a database connection now",
            value=sum(_waiting(pool) for pool in pools),
        )


_POOLS = _PoolCollector()
REGISTRY.register(_POOLS)


def watch_pool(database: Database) -> None:
    """Report this database's pool in the pool gauges (for as long as it lives)."""
    _POOLS.databases.add(database)
