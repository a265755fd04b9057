"""Every declared fact, so that whatever spans all of them (rollup tables in the
metadata, retention, the Citus key rule) finds them in one place."""

from __future__ import annotations

from db.compiler import Fact
from db.facts.api_requests import API_REQUESTS
from db.facts.predictions import PREDICTIONS
from db.facts.product_events import PRODUCT_EVENTS

FACTS: tuple[Fact, ...] = (PRODUCT_EVENTS, API_REQUESTS, PREDICTIONS)
