"""The five kinds of rows the gateway ingests, and how each travels on the wire."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    """One ingest path: its GraphQL mutation and, when it has one, its NDJSON data source."""

    name: str
    mutation: str
    argument: str
    input_type: str
    datasource: str | None

    @property
    def document(self) -> str:
        """The GraphQL mutation that ingests a batch of this kind."""
        return (
            f"mutation($rows: [{self.input_type}!]!) {{ {self.mutation}({self.argument}: $rows)"
            " { accepted duplicates rejected { index field message } } }"
        )


PRODUCT_EVENTS = Kind(
    "product_events", "ingestProductEvents", "events", "ProductEventInput", "product_events"
)
API_REQUESTS = Kind(
    "api_requests", "ingestApiRequests", "requests", "ApiRequestInput", "api_requests"
)
PREDICTIONS = Kind(
    "predictions", "ingestPredictions", "predictions", "PredictionInput", "ml_model_predictions"
)
# Actuals update stored predictions; the NDJSON path has no data source for them.
ACTUALS = Kind("actuals", "recordActuals", "actuals", "ActualInput", None)
METRICS = Kind("metrics", "recordMetrics", "samples", "MetricSampleInput", "metrics")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _wire_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _dumps(value: object) -> str:
    return json.dumps(value, default=_wire_value)


def graphql_body(kind: Kind, rows: Sequence[Row]) -> bytes:
    """The JSON body of the GraphQL request for a batch (input fields in camelCase).

    Encoded a row at a time: one json.dumps of a whole batch holds the GIL for
    milliseconds, a stall the host's event loop would feel.
    """
    encoded = ",".join(_dumps({_camel(key): value for key, value in row.items()}) for row in rows)
    return f'{{"query":{_dumps(kind.document)},"variables":{{"rows":[{encoded}]}}}}'.encode()


def ndjson_body(rows: Sequence[Row]) -> bytes:
    """The NDJSON body of a batch: one object a line, fields in snake_case as tracked."""
    return "\n".join(_dumps(row) for row in rows).encode()
