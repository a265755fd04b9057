"""Alerting in a serving process: the evaluation loop and webhook notifications.

Every GATEWAY_ALERT_INTERVAL seconds the loop evaluates the enabled alerts
(db.alert_rules.evaluate: one process at a time, under an advisory lock).
Each state change is POSTed to the alert's webhook channels by its own
task, with a timeout and retries with backoff, so a dead webhook never holds
up evaluation or ingest; the outcome is appended to the change's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from db import alert_rules
from db.alerts import append_delivery_note
from db.engine import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookPolicy:
    """How hard to try: per-attempt timeout, attempts, and the first backoff (doubling)."""

    timeout: float = 5.0
    attempts: int = 3
    backoff: float = 1.0


def webhook_payload(change: alert_rules.Change) -> dict[str, Any]:
    """The JSON body POSTed for a state change."""
    alert, event = change.alert, change.event
    return {
        "alertId": str(alert["id"]),
        "name": alert["name"],
        "state": event["state"],
        "value": event["value"],
        "threshold": alert["threshold"],
        "message": event["message"],
        "at": event["at"].isoformat(),
    }


async def post_webhook(url: str, body: dict[str, Any], policy: WebhookPolicy) -> str:
    """POST body to url until a 2xx answer or the attempts run out; the outcome in words."""
    failure = "no attempt made"
    async with httpx.AsyncClient(timeout=policy.timeout) as client:
        for attempt in range(1, policy.attempts + 1):
            try:
                response = await client.post(url, json=body)
            except httpx.HTTPError as error:
                failure = f"{type(error).__name__}"
            else:
                if response.is_success:
                    return f"webhook {url}: delivered on attempt {attempt}"
                failure = f"HTTP {response.status_code}"
            if attempt < policy.attempts:
                await asyncio.sleep(policy.backoff * 2 ** (attempt - 1))
    return f"webhook {url}: failed after {policy.attempts} attempts ({failure})"


class Alerting:
    """The process's alert loop and its in-flight webhook deliveries."""

    def __init__(self, db: Database, interval: float, policy: WebhookPolicy) -> None:
        self._db = db
        self._interval = interval
        self._policy = policy
        self._deliveries: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None

    def notify(self, changes: Sequence[alert_rules.Change]) -> None:
        """Start delivering each change to its alert's webhooks; returns at once."""
        for change in changes:
            for channel in change.alert["channels"]:
                if channel.get("kind") == "webhook":
                    task = asyncio.create_task(self._deliver(change, channel["url"]))
                    self._deliveries.add(task)
                    task.add_done_callback(self._deliveries.discard)

    async def settled(self) -> None:
        """Wait until every delivery started so far has finished."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)

    async def _deliver(self, change: alert_rules.Change, url: str) -> None:
        note = await post_webhook(url, webhook_payload(change), self._policy)
        async with self._db.write() as conn:
            await append_delivery_note(conn, change.event["id"], note)

    async def evaluate_now(self) -> None:
        """One round of the loop: evaluate unless another process is or just did, then notify."""
        now = datetime.now(UTC)
        # Another process's loop evaluated within half an interval: leave this round to it.
        recent = now - timedelta(seconds=self._interval / 2)
        changes = await alert_rules.evaluate(
            self._db, now, wait_for_lock=False, skip_if_since=recent
        )
        self.notify(changes or [])

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.evaluate_now()
            except Exception:  # the loop must outlive one bad round (database restart ...)
                log.exception("alert evaluation failed; trying again in %ss", self._interval)

    def start(self) -> None:
        """Start the evaluation loop (interval 0 or less: no loop)."""
        if self._interval > 0:
            self._loop = asyncio.create_task(self._run(), name="alert-loop")

    async def stop(self) -> None:
        """Stop the loop and abandon deliveries still in flight."""
        tasks = [t for t in (self._loop, *self._deliveries) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
