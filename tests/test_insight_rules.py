"""The contribution rules on hand-made tallies: slices present in one window only."""

from __future__ import annotations

from fractions import Fraction

from resolvers.insight_rules import Examined, Observed, Tally, findings
from schema.insight_types import InsightDirection

P95 = Examined("p95LatencyMs", "p95_latency_ms")
ERRORS = Examined("errorRate")


def tally(rows, errors=0, p95=None):
    return Tally(rows, errors, {"p95_latency_ms": p95})


def test_a_slice_new_in_the_current_window_is_measured_against_the_entity_baseline():
    observed = Observed(
        current=tally(100, p95=300.0),
        baseline=tally(100, p95=100.0),
        slices={
            "REGION": (
                {"old": tally(80, p95=120.0), "new": tally(20, p95=900.0)},
                {"old": tally(100, p95=100.0)},
            )
        },
    )
    [finding] = findings([P95], observed, 0.2, 100)
    new, old = finding.causes
    # share * (slice now - entity baseline) / (current - baseline)
    assert (new.value, new.baseline, new.contribution) == ("new", None, Fraction(1, 5) * 800 / 200)
    assert (old.value, old.contribution) == ("old", Fraction(4, 5) * 20 / 200)


def test_a_slice_without_values_now_explains_nothing_of_a_percentile():
    observed = Observed(
        current=tally(100, p95=300.0),
        baseline=tally(100, p95=100.0),
        slices={"REGION": ({"gone": tally(50), "kept": tally(50, p95=300.0)}, {})},
    )
    [finding] = findings([P95], observed, 0.2, 100)
    assert [(c.value, c.contribution) for c in finding.causes] == [("kept", Fraction(1, 2))]


def test_a_failing_slice_that_vanished_explains_an_error_rate_improvement():
    observed = Observed(
        current=tally(100, errors=2),
        baseline=tally(100, errors=12),
        slices={
            "REGION": (
                {"stayed": tally(100, errors=2)},
                {"stayed": tally(80, errors=2), "vanished": tally(20, errors=10)},
            )
        },
    )
    [finding] = findings([ERRORS], observed, 0.2, 100)
    assert finding.direction is InsightDirection.IMPROVEMENT
    # vanished: (0/100 - 10/100) / (2/100 - 12/100) = 1; stayed: 2/100 - 2/100 = 0, no cause
    [vanished] = finding.causes
    assert (vanished.value, vanished.current, vanished.share) == ("vanished", None, 0)
    assert vanished.contribution == 1
