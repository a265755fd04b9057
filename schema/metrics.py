"""Custom metrics: the recordMetrics mutation."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from db.ingest.metric_samples import METRIC_SAMPLE
from resolvers.ingest import ingest
from schema.common import IngestResult
from schema.metric_types import MetricSampleInput


@strawberry.type
class MetricMutation:
    @strawberry.mutation(
        description="samples have no id, so every valid sample is stored (nothing is a duplicate)"
    )
    async def record_metrics(
        self, info: Info[Any, Any], samples: list[MetricSampleInput]
    ) -> IngestResult:
        return await ingest(info, METRIC_SAMPLE, samples, "samples")
