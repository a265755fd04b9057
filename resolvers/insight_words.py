"""An insight in plain words: templates over the numbers the insight itself carries,
so the same rows always give the same sentence and every number shown is one of them."""

from __future__ import annotations

from fractions import Fraction

from resolvers.insight_rules import Cause, Finding
from schema.insight_types import InsightDirection

LABELS = {
    "errorRate": "Error rate",
    "p95PageLoadTimeMs": "p95 page load time",
    "p95ApiLatencyMs": "p95 API latency",
    "p95LatencyMs": "p95 latency",
}
# Where to look first, per dimension of each target kind ({v}: the slice's value).
CHECKS = {
    "ENDPOINT": {
        "REGION": "the routing and upstream providers that serve {v}",
        "DEVICE_TYPE": "what the {v} clients send",
        "DOCUMENT_TYPE": "how {v} documents are processed",
        "METHOD": "the {v} handler",
        "STATUS_CODE": "the code path that answers {v}",
    },
    "PRODUCT": {
        "COUNTRY": "Test from {v} first",
        "DEVICE_TYPE": "Test on {v} first",
        "EVENT_TYPE": "Test the {v} step first",
        "SOURCE": "Test through {v} first",
    },
}
# A failure's status code is the failure itself, not where it happens.
NOT_A_PLACE = {("errorRate", "STATUS_CODE")}
STANDS_OUT = Fraction(6, 5)


def amount(finding: Finding, value: Fraction) -> str:
    """A measure value for humans: rates as percentages, durations in ms."""
    if finding.is_rate:
        return f"{float(value) * 100:.1f}%"
    return f"{float(value):,.0f} ms" if value >= 100 else f"{float(value):.1f} ms"


def percent(value: Fraction) -> str:
    """A fraction as a whole percentage."""
    return f"{float(value) * 100:.0f}%"


def slice_name(cause: Cause) -> str:
    """A slice as "DIMENSION value"; a null value reads "(none)"."""
    return f"{cause.dimension} {cause.value or '(none)'}"


def lead(finding: Finding) -> Cause | None:
    """The cause worth naming: the first listed one whose contribution is at least 1.2 times
    its share of the rows, i.e. that moved clearly more than the entity as a whole (a slice
    that merely carries its share of the change, or holds every row, says nothing about
    where). A failure's status code is the failure itself, not a place."""
    for cause in finding.causes:
        if (finding.measure, cause.dimension) in NOT_A_PLACE:
            continue
        if cause.contribution >= cause.share * STANDS_OUT:
            return cause
    return None


def message(finding: Finding, rows_noun: str) -> str:
    """What moved, by how much, and where, in one sentence."""
    rose = finding.direction is InsightDirection.REGRESSION
    change = finding.change
    ratio = "" if change is None else f" ({float(change) * 100:+.0f}%)"
    head = (
        f"{LABELS[finding.measure]} {'rose' if rose else 'fell'} from "
        f"{amount(finding, finding.baseline)} to {amount(finding, finding.current)}{ratio}"
    )
    cause = lead(finding)
    if cause is None:
        return f"{head}; no single slice explains it."
    if finding.is_rate:
        where = f"{percent(cause.contribution)} of the {'rise' if rose else 'fall'}"
        return f"{head}; {slice_name(cause)} explains {where}."
    where = f"{slice_name(cause)} ({percent(cause.share)} of {rows_noun})"
    return f"{head}; {where} {_moved(finding, cause)}."


def _moved(finding: Finding, cause: Cause) -> str:
    # Only a rate's improvement can be explained by a slice with no rows now, and no
    # template describes an improvement with this phrase.
    assert cause.current is not None
    if cause.baseline is None:
        return f"is new, at {amount(finding, cause.current)}"
    return f"went from {amount(finding, cause.baseline)} to {amount(finding, cause.current)}"


def recommendation(finding: Finding, target: str, top_reason: str | None) -> str:
    """A concrete next step drawn from the insight's numbers.

    top_reason is the entity's most common failure reason now, for endpoints.
    """
    cause = lead(finding)
    if finding.direction is InsightDirection.IMPROVEMENT:
        where = f"in {slice_name(cause)}" if cause else "recently"
        return f"Nothing to fix: note what changed {where} so the gain holds."
    if cause is None:
        named = finding.is_rate and top_reason
        reason = f" (the most common failure now is {top_reason})" if named else ""
        return f"No single slice explains it: look at a recent deploy{reason}."
    check = CHECKS[target][cause.dimension].format(v=cause.value or "(none)")
    label = LABELS[finding.measure].lower()
    if target == "PRODUCT":
        return f"{check}: the {label} of {slice_name(cause)} {_moved(finding, cause)}."
    if not finding.is_rate:
        moved = f"its {label} {_moved(finding, cause)}"
        return f"Profile {slice_name(cause)} first ({moved}): check {check}."
    if cause.top_reason is None:
        return f"Failures in {slice_name(cause)} carry no error reason: check {check}."
    return f"{cause.top_reason} is the most common failure in {slice_name(cause)}: check {check}."
