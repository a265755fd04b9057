"""The arithmetic of insights: which measures moved enough, how much each slice explains,
severity and order, as the contract's insights section defines them.

Pure functions over counts and measure values, so the rules can be read and
tested without a database. Numbers are compared exactly: error rates as
fractions of their counts, percentiles and minChange as the decimal values a
client sees (a float's shortest repr), so a change exactly at a threshold is
reported whatever binary rounding would say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from schema.insight_types import InsightDirection, Severity

MAX_CAUSES = 3
MIN_RATE_CHANGE = Fraction(1, 100)
SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


def exact(value: float) -> Fraction:
    """A float as the decimal number it prints as."""
    return Fraction(repr(float(value)))


@dataclass(frozen=True)
class Tally:
    """One window's numbers for an entity or a slice: rows, errors, percentile values."""

    rows: int
    errors: int
    values: Mapping[str, float | None] = field(default_factory=dict)
    top_reason: str | None = None

    def rate(self) -> Fraction | None:
        """errors / rows, None without rows."""
        return Fraction(self.errors, self.rows) if self.rows else None

    def value(self, measure: str) -> Fraction | None:
        """A percentile's exact value, None without values."""
        found = self.values.get(measure)
        return None if found is None else exact(found)


Slices = Mapping[str, Tally]


@dataclass(frozen=True)
class Observed:
    """An entity in both windows, whole and per dimension value."""

    current: Tally
    baseline: Tally
    # dimension -> (slices in the current window, slices in the baseline window), by value
    slices: Mapping[str, tuple[Slices, Slices]]


@dataclass(frozen=True)
class Examined:
    """A measure insights look at: its contract field and, for a percentile, its fact measure."""

    field: str
    percentile: str | None = None


@dataclass(frozen=True)
class Cause:
    """A slice and its part in a change (the contract's InsightCause), exactly."""

    dimension: str
    value: str
    current: Fraction | None
    baseline: Fraction | None
    share: Fraction
    contribution: Fraction
    top_reason: str | None


@dataclass(frozen=True)
class Finding:
    """One reported change of one measure of one entity, before it is put into words."""

    measure: str
    is_rate: bool
    current: Fraction
    baseline: Fraction
    direction: InsightDirection
    severity: Severity
    causes: tuple[Cause, ...]

    @property
    def change(self) -> Fraction | None:
        """current / baseline - 1; None when baseline is 0."""
        return self.current / self.baseline - 1 if self.baseline else None

    def order(self) -> tuple[int, int, bool, Fraction, str]:
        """The contract's Insight order: regressions first, then severity, then |change|
        descending (a change from 0, which has no ratio, counts as the largest), then measure."""
        change = self.change
        regression = 0 if self.direction is InsightDirection.REGRESSION else 1
        magnitude = Fraction(0) if change is None else -abs(change)
        return regression, SEVERITY_RANK[self.severity], change is not None, magnitude, self.measure


def findings(
    examined: Sequence[Examined], observed: Observed, min_change: float, min_rows: int
) -> list[Finding]:
    """The insights of one entity, in the contract's order."""
    if min(observed.current.rows, observed.baseline.rows) < min_rows:
        return []
    found = [_finding(measure, observed, exact(min_change)) for measure in examined]
    return sorted((f for f in found if f is not None), key=Finding.order)


def _levels(measure: Examined, tally: Tally) -> Fraction | None:
    if measure.percentile is None:
        return tally.rate() or Fraction(0)
    return tally.value(measure.percentile)


def _finding(measure: Examined, observed: Observed, min_change: Fraction) -> Finding | None:
    current, baseline = _levels(measure, observed.current), _levels(measure, observed.baseline)
    if current is None or baseline is None or current == baseline:
        return None
    delta = current - baseline
    if abs(delta) < min_change * baseline:
        return None
    if measure.percentile is None and abs(delta) < MIN_RATE_CHANGE:
        return None
    direction = InsightDirection.REGRESSION if delta > 0 else InsightDirection.IMPROVEMENT
    return Finding(
        measure=measure.field,
        is_rate=measure.percentile is None,
        current=current,
        baseline=baseline,
        direction=direction,
        severity=_severity(direction, current, baseline),
        causes=_causes(measure, observed, baseline, delta),
    )


def _severity(direction: InsightDirection, current: Fraction, baseline: Fraction) -> Severity:
    if direction is InsightDirection.IMPROVEMENT:
        return Severity.INFO
    # A rise from 0 is an unbounded relative change.
    change = abs(current / baseline - 1) if baseline else None
    if change is None or change >= 1:
        return Severity.CRITICAL
    return Severity.WARNING if change >= Fraction(1, 2) else Severity.INFO


def _causes(
    measure: Examined, observed: Observed, baseline: Fraction, delta: Fraction
) -> tuple[Cause, ...]:
    causes = [
        cause
        for dimension, (now, then) in observed.slices.items()
        for value in sorted(now.keys() | then.keys())
        if (cause := _cause(measure, observed, dimension, value, baseline, delta)).contribution > 0
    ]
    causes.sort(key=lambda c: (-c.contribution, c.dimension, c.value))
    return tuple(causes[:MAX_CAUSES])


def _cause(
    measure: Examined,
    observed: Observed,
    dimension: str,
    value: str,
    baseline: Fraction,
    delta: Fraction,
) -> Cause:
    now_slices, then_slices = observed.slices[dimension]
    empty = Tally(0, 0)
    now, then = now_slices.get(value, empty), then_slices.get(value, empty)
    share = Fraction(now.rows, observed.current.rows) if observed.current.rows else Fraction(0)
    if measure.percentile is None:
        slice_now, slice_then = now.rate(), then.rate()
        part_now = Fraction(now.errors, observed.current.rows) if observed.current.rows else 0
        part_then = Fraction(then.errors, observed.baseline.rows) if observed.baseline.rows else 0
        contribution = (part_now - part_then) / delta
    else:
        slice_now, slice_then = now.value(measure.percentile), then.value(measure.percentile)
        # A slice without values now added nothing to the current percentile.
        reference = baseline if slice_then is None else slice_then
        moved = Fraction(0) if slice_now is None else slice_now - reference
        contribution = share * moved / delta
    return Cause(dimension, value, slice_now, slice_then, share, contribution, now.top_reason)
