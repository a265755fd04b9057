"""Live-update notices: what an ingest or an alert evaluation touched, sent with NOTIFY.

A notice is published inside the writing transaction (Postgres delivers it
only on commit, so a rolled-back batch wakes nobody) on one channel that
every gateway process LISTENs to. Its payload names the kind and the entity
ids; when the ids would not fit NOTIFY's 8000-byte limit, only the kind is
sent, which wakes every watcher of that kind.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

CHANNEL = "gateway_live"
# NOTIFY refuses payloads of 8000 bytes or more; keep a margin.
MAX_PAYLOAD_BYTES = 7_900
ALERT_EVENT = "ALERT_EVENT"
# The column of each ingest kind's stored rows that names its entity.
ENTITY_COLUMNS = {
    "PRODUCT_EVENT": "product_id",
    "API_REQUEST": "endpoint",
    "PREDICTION": "model_id",
    "METRIC_SAMPLE": "name",
}


@dataclass(frozen=True)
class Notice:
    """Something of `kind` changed for `ids`; ids None means any entity of that kind."""

    kind: str
    ids: frozenset[str] | None


def payload(kind: str, ids: Iterable[str] | None) -> str:
    """The notice as NOTIFY text: kind and sorted ids, or the kind alone when too long."""
    if ids is not None:
        full = json.dumps({"kind": kind, "ids": sorted(set(ids))}, separators=(",", ":"))
        if len(full.encode()) < MAX_PAYLOAD_BYTES:
            return full
    return json.dumps({"kind": kind, "ids": None}, separators=(",", ":"))


def parse(text: str) -> Notice | None:
    """A notice from NOTIFY text, or None for anything else on the channel."""
    try:
        body = json.loads(text)
        kind, ids = body["kind"], body["ids"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(kind, str) or not (ids is None or isinstance(ids, list)):
        return None
    return Notice(kind, None if ids is None else frozenset(str(i) for i in ids))


async def publish(conn: AsyncConnection, kind: str, ids: Iterable[str] | None) -> None:
    """Queue one notice on conn's transaction; it is delivered when that commits."""
    await conn.execute(select(func.pg_notify(CHANNEL, payload(kind, ids))))


async def publish_ingest(conn: AsyncConnection, kind: str, tally: Sequence[RowMapping]) -> None:
    """One notice for a batch's newly stored rows (their writer's tally, a row per
    entity), naming the entities they belong to."""
    if not tally:
        return
    column = ENTITY_COLUMNS.get(kind, "")
    known = column in tally[0]
    await publish(conn, kind, {str(row[column]) for row in tally} if known else None)
