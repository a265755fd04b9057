"""Custom metric samples: what makes a row valid. They have no natural id."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from db.ingest.batch import IngestKind, RowContext
from db.ingest.fields import RowError, number, optional_text, required_text, timestamp
from db.tables import metric_samples

METRIC_TYPES = frozenset({"COUNTER", "GAUGE", "HISTOGRAM", "TIMER", "AVERAGE"})


def _metric_type(raw: Mapping[str, Any]) -> str:
    value = raw.get("type")
    if value not in METRIC_TYPES:
        allowed = ", ".join(sorted(METRIC_TYPES))
        raise RowError("type", f"type must be one of {allowed}, got {value!r}")
    return str(value)


def _tags(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON object of scalar values; null or omitted is no tags."""
    value = raw.get("tags")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RowError("tags", f"tags must be a JSON object, got {type(value).__name__}")
    for key, tag in value.items():
        if tag is not None and not isinstance(tag, str | int | float | bool):
            raise RowError("tags", f"tag {key!r} must be a string, number, boolean or null")
        if isinstance(tag, float) and not math.isfinite(tag):
            raise RowError("tags", f"tag {key!r} must be finite, got {tag!r}")
        if "\x00" in key or (isinstance(tag, str) and "\x00" in tag):
            raise RowError("tags", f"tag {key!r} must not contain NUL characters")
    return value


def validate_metric_sample(raw: Mapping[str, Any], context: RowContext) -> dict[str, Any]:
    """The stored row for one MetricSampleInput, or RowError."""
    at = (
        context.now
        if raw.get("timestamp") is None
        else timestamp(raw, "timestamp", now=context.now, tolerance=context.future_tolerance)
    )
    return {
        "name": required_text(raw, "name"),
        "type": _metric_type(raw),
        "value": number(raw, "value", required=True),
        "ts": at,
        "tags": _tags(raw),
        "unit": optional_text(raw, "unit"),
        "source": optional_text(raw, "source"),
    }


METRIC_SAMPLE = IngestKind(
    kind="METRIC_SAMPLE",
    table=metric_samples,
    id_column=None,
    validate=validate_metric_sample,
    returning=("name", "ts"),
    register=None,
)
