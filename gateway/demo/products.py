"""Demo product events: several products, four days, a few percent errors.

One story: in the last 24 hours, a third of checkout-web's mobile page loads
got four times slower, which insights find against the days before.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from db.engine import Database
from db.ingest.product_events import PRODUCT_EVENT

PRODUCTS = {
    "checkout-web": ("Checkout (web)", 0.04),
    "search-web": ("Search (web)", 0.015),
    "mobile-app": ("Mobile app", 0.03),
    "admin-console": ("Admin console", 0.01),
    "onboarding": ("Onboarding flow", 0.02),
    "reports": ("Reports", 0.05),
}
EVENT_TYPES = [
    ("page_view", 50),
    ("click", 25),
    ("search", 10),
    ("add_to_cart", 6),
    ("checkout", 3),
    ("purchase", 2),
    ("api_call", 4),
]
COUNTRIES = [
    ("US", 30),
    ("DE", 10),
    ("GB", 9),
    ("IT", 8),
    ("FR", 7),
    ("IN", 9),
    ("BR", 6),
    ("JP", 5),
    ("CA", 5),
    ("ES", 4),
    ("NL", 3),
    ("AU", 3),
    (None, 1),
]
DEVICES = [("desktop", 55), ("mobile", 38), ("tablet", 7)]
SOURCES = [("web", 60), ("ios", 20), ("android", 18), ("api", 2)]
ERROR_CODES = [("TIMEOUT", 40), ("HTTP_500", 25), ("JS_EXCEPTION", 20), ("HTTP_404", 10), ("", 5)]
DAYS = 4
EVENTS_PER_PRODUCT = 8_000
SLOW_PRODUCT, SLOW_DEVICE = "checkout-web", "mobile"
INCIDENT = timedelta(hours=24)
SLOW_SHARE, SLOWDOWN = 0.35, 4.0


def _pick(rng: random.Random, weighted: list[tuple[Any, int]]) -> Any:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def generate(now: datetime, seed: int = 7) -> list[dict[str, Any]]:
    """Deterministic events for one day's demo, as ProductEventInput objects."""
    rng = random.Random(seed)
    day = now.date().isoformat()
    rows: list[dict[str, Any]] = []
    for product_id, (name, error_rate) in PRODUCTS.items():
        users = [f"user-{rng.randrange(100_000):05d}" for _ in range(600)]
        for n in range(EVENTS_PER_PRODUCT):
            age = timedelta(seconds=rng.uniform(0, DAYS * 86400))
            event_type = _pick(rng, EVENT_TYPES)
            failed = rng.random() < error_rate
            mobile = _pick(rng, DEVICES)
            slow = age < INCIDENT and (product_id, mobile) == (SLOW_PRODUCT, SLOW_DEVICE)
            slowdown = SLOWDOWN if slow and rng.random() < SLOW_SHARE else 1.0
            rows.append(
                {
                    "eventId": f"demo-{day}-{product_id}-{n}",
                    "timestamp": now - age,
                    "productId": product_id,
                    "productName": name,
                    "eventType": event_type,
                    "userId": rng.choice(users) if rng.random() < 0.95 else None,
                    "sessionId": f"s-{rng.randrange(5_000)}",
                    "durationMs": round(rng.lognormvariate(7.5, 0.8), 1),
                    "errorCode": _pick(rng, ERROR_CODES) if failed else None,
                    "isError": failed,
                    "pageLoadTimeMs": (
                        round(
                            rng.lognormvariate(6.8 + (mobile == "mobile") * 0.3, 0.45) * slowdown, 1
                        )
                        if event_type == "page_view"
                        else None
                    ),
                    "apiLatencyMs": (
                        round(rng.lognormvariate(5.0, 0.6), 1)
                        if event_type in ("api_call", "search", "checkout")
                        else None
                    ),
                    "source": _pick(rng, SOURCES),
                    "deviceType": mobile,
                    "country": _pick(rng, COUNTRIES),
                    "properties": {"plan": rng.choice(["free", "pro", "enterprise"])},
                }
            )
    return rows


async def load(db: Database, now: datetime) -> str:
    """Store the demo product events."""
    from gateway.demo import describe, ingest_all

    outcome = await ingest_all(db, PRODUCT_EVENT, generate(now), now)
    return describe(f"product events ({len(PRODUCTS)} products, {DAYS} days)", outcome)
