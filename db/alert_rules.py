"""Evaluating alert rules: measures through the aggregate compiler, then a verdict.

THRESHOLD compares the measure over [now - window, now) with the threshold.
ANOMALY compares it with the mean and population standard deviation of the
same measure over the previous baselineWindows windows of the same length
(windows without data are left out; at least two are needed), and fires when
it is more than sensitivity deviations away on either side. A window without
rows, or a measure that is null over it, gives NO_DATA.
"""

from __future__ import annotations

import math
import operator
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from db import alerts as stored
from db.aggregates import fetch_groups
from db.compiler import AggregateQuery, Fact
from db.engine import Database
from db.facts.api_requests import API_REQUESTS
from db.facts.metric_samples import METRIC_SAMPLES
from db.facts.predictions import PREDICTIONS
from db.facts.product_events import PRODUCT_EVENTS

OK, FIRING, NO_DATA = "OK", "FIRING", "NO_DATA"
COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GT": (operator.gt, "above"),
    "GTE": (operator.ge, "at or above"),
    "LT": (operator.lt, "below"),
    "LTE": (operator.le, "at or below"),
}
MIN_BASELINE_WINDOWS = 2
# Key of the advisory lock held while one process evaluates the alerts.
ALERT_LOCK_ID = 7_311_015


TARGET_FACTS: dict[str, Fact] = {
    "PRODUCT": PRODUCT_EVENTS,
    "ENDPOINT": API_REQUESTS,
    "MODEL": PREDICTIONS,
    "METRIC": METRIC_SAMPLES,
}


def fact_measure(target: str, measure: str) -> str:
    """The fact's key for an alert's measure (a metrics field name, or an Aggregation)."""
    if target == "METRIC":
        return measure.lower()  # the metric fact's measures are the Aggregation names
    return re.sub(r"(?<!^)([A-Z])", r"_\1", measure).lower()


@dataclass(frozen=True)
class Verdict:
    """The outcome of one evaluation: state, the current value, and a sentence."""

    state: str
    value: float | None
    message: str


def _windows(alert: RowMapping) -> int:
    return 1 + (alert["baseline_windows"] if alert["kind"] == "ANOMALY" else 0)


async def window_values(
    conn: AsyncConnection, rules: Sequence[RowMapping], now: datetime
) -> dict[int, list[float | None]]:
    """Per alert id, its measure over the current window, then each earlier window.

    One statement per (target, window length, window position) for all alerts
    that share it, whatever their entities and measures.
    """
    wanted: dict[tuple[str, int, int], tuple[set[str], set[str]]] = defaultdict(
        lambda: (set(), set())
    )
    for rule in rules:
        for position in range(_windows(rule)):
            measures, ids = wanted[rule["target"], rule["window_minutes"], position]
            measures.add(fact_measure(rule["target"], rule["measure"]))
            ids.add(rule["target_id"])
    answers: dict[tuple[str, int, int], dict[str, Any]] = {}
    for (target, minutes, position), (measures, ids) in wanted.items():
        end = now - timedelta(minutes=minutes * position)
        query = AggregateQuery(frozenset(measures), end - timedelta(minutes=minutes), end)
        groups = await fetch_groups(conn, TARGET_FACTS[target], query, sorted(ids))
        answers[target, minutes, position] = {
            entity: found[0].values if found else None for entity, found in groups.items()
        }
    values: dict[int, list[float | None]] = {}
    for rule in rules:
        key = fact_measure(rule["target"], rule["measure"])
        values[rule["id"]] = [
            _number(answers[rule["target"], rule["window_minutes"], p][rule["target_id"]], key)
            for p in range(_windows(rule))
        ]
    return values


def _number(found: dict[str, Any] | None, key: str) -> float | None:
    if found is None or found[key] is None:
        return None
    return float(found[key])


def verdict(rule: RowMapping, values: Sequence[float | None]) -> Verdict:
    """The state a rule is in, given its measure over the current and earlier windows."""
    subject = f"{rule['measure']} of {rule['target'].lower()} {rule['target_id']}"
    window = f"the last {rule['window_minutes']} minutes"
    current = values[0]
    if current is None:
        return Verdict(NO_DATA, None, f"no data for {subject} in {window}")
    if rule["kind"] == "ANOMALY":
        return _anomaly(rule, subject, window, current, [v for v in values[1:] if v is not None])
    compare, words = COMPARISONS[rule["condition"]]
    threshold = rule["threshold"]
    if compare(current, threshold):
        text = f"{subject} is {current:g} over {window}, {words} the threshold {threshold:g}"
        return Verdict(FIRING, current, text)
    return Verdict(OK, current, f"{subject} is {current:g} over {window}, within {threshold:g}")


def _anomaly(
    rule: RowMapping, subject: str, window: str, current: float, baseline: list[float]
) -> Verdict:
    if len(baseline) < MIN_BASELINE_WINDOWS:
        return Verdict(
            NO_DATA,
            current,
            f"{subject}: only {len(baseline)} of the previous {rule['baseline_windows']} "
            f"windows have data, {MIN_BASELINE_WINDOWS} are needed for a baseline",
        )
    mean = sum(baseline) / len(baseline)
    deviation = math.sqrt(sum((v - mean) ** 2 for v in baseline) / len(baseline))
    distance = abs(current - mean)
    scale = f"mean {mean:g}, standard deviation {deviation:g} over {len(baseline)} windows"
    if distance > rule["sensitivity"] * deviation:
        side = "above" if current > mean else "below"
        times = f"{distance / deviation:.1f} standard deviations " if deviation else ""
        text = f"{subject} is {current:g} over {window}, {times}{side} normal ({scale})"
        return Verdict(FIRING, current, text)
    return Verdict(OK, current, f"{subject} is {current:g} over {window}, normal ({scale})")


@dataclass(frozen=True)
class Change:
    """An alert that changed state in an evaluation: its rule and the recorded event."""

    alert: RowMapping
    event: RowMapping


async def evaluate(
    db: Database, now: datetime, *, wait_for_lock: bool, skip_if_since: datetime | None = None
) -> list[Change] | None:
    """Evaluate every enabled alert and record the state changes, in one transaction.

    An advisory lock lets one process evaluate at a time, so a change is
    recorded (and notified) once. None: another process holds the lock and
    wait_for_lock is false, or some alert was evaluated at or after
    skip_if_since (several processes' loops then share the work).
    """
    async with db.write() as conn:
        if wait_for_lock:
            await conn.execute(select(func.pg_advisory_xact_lock(ALERT_LOCK_ID)))
        elif not await conn.scalar(select(func.pg_try_advisory_xact_lock(ALERT_LOCK_ID))):
            return None
        rules = await stored.list_alerts(conn, enabled_only=True)
        latest = [r["last_evaluated_at"] for r in rules if r["last_evaluated_at"] is not None]
        if skip_if_since is not None and latest and max(latest) >= skip_if_since:
            return None
        values = await window_values(conn, rules, now)
        changes: list[Change] = []
        unchanged: list[tuple[int, float | None]] = []
        for rule in rules:
            found = verdict(rule, values[rule["id"]])
            if found.state == rule["state"]:
                unchanged.append((rule["id"], found.value))
                continue
            event = await stored.record_change(
                conn, rule, found.state, found.value, found.message, now
            )
            changes.append(Change(rule, event))
        await stored.record_unchanged(conn, unchanged, now)
        await stored.announce(conn, [c.alert["id"] for c in changes])
    return changes
