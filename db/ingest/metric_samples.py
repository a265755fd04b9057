"""Custom metric samples: what makes a row valid. They have no natural id."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from db.ingest.batch import IngestKind
from db.ingest.bulk import Tally
from db.ingest.fields import RowError
from db.ingest.shape import Shape, moment, number_field, per_value, text
from db.tables import metric_samples

METRIC_TYPES = frozenset({"COUNTER", "GAUGE", "HISTOGRAM", "TIMER", "AVERAGE"})


def _metric_type(raw: Mapping[str, Any]) -> str:
    value = raw.get("type")
    if not isinstance(value, str) or value not in METRIC_TYPES:
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


# Samples come in small batches of few names: the type and the tags are checked per value.
METRIC_SAMPLE_SHAPE = Shape(
    (
        moment("timestamp", "ts", default_now=True),
        text("name", "name", required=True),
        per_value("type", "type", _metric_type),
        number_field("value", "value", required=True),
        per_value("tags", "tags", _tags),
        text("unit", "unit"),
        text("source", "source"),
    )
)


METRIC_SAMPLE = IngestKind(
    kind="METRIC_SAMPLE",
    table=metric_samples,
    id_column=None,
    shape=METRIC_SAMPLE_SHAPE,
    tally=Tally(("name",)),
    register=None,
)
