"""Demo alerts: one that fires on the demo data, one that stays quiet.

/api/payments fails about 8% of the time (CARD_DECLINED mostly), so an
error-rate alert at 5% over the last day fires; /api/search's P95 latency
over the last hour stays well under two seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db import alert_rules
from db import alerts as stored
from db.engine import Database

DEMO_ALERTS: list[dict[str, Any]] = [
    {
        "name": "payments error rate above 5%",
        "target": "ENDPOINT",
        "target_id": "/api/payments",
        "measure": "errorRate",
        "kind": "THRESHOLD",
        "condition": "GT",
        "threshold": 0.05,
        "window_minutes": 24 * 60,
    },
    {
        "name": "search P95 latency above 2 s",
        "target": "ENDPOINT",
        "target_id": "/api/search",
        "measure": "p95LatencyMs",
        "kind": "THRESHOLD",
        "condition": "GT",
        "threshold": 2000.0,
        "window_minutes": 60,
    },
]
RULE_DEFAULTS = {"sensitivity": 3.0, "baseline_windows": 12, "channels": [], "enabled": True}


async def load(db: Database, now: datetime) -> str:
    """Create the demo alerts that do not exist yet (by name), then evaluate them once."""
    async with db.write() as conn:
        existing = {row["name"] for row in await stored.list_alerts(conn)}
        for rule in DEMO_ALERTS:
            if rule["name"] not in existing:
                await stored.insert_alert(conn, {**RULE_DEFAULTS, **rule})
    await alert_rules.evaluate(db, now, wait_for_lock=True)
    async with db.read() as conn:
        states = [f"{r['name']}: {r['state']}" for r in await stored.list_alerts(conn)]
    return "alerts: " + "; ".join(states)
