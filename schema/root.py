"""The Schema: root types merged from each vertical, and its extensions."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache
from strawberry.tools import merge_types

from resolvers.errors import is_unexpected
from schema.admin import AdminQuery
from schema.alerts import AlertMutation, AlertQuery
from schema.dashboards import DashboardMutation, DashboardQuery
from schema.endpoints import EndpointMutation, EndpointQuery
from schema.insights import InsightQuery
from schema.metrics import MetricMutation, MetricQuery
from schema.models import ModelMutation, ModelQuery
from schema.products import ProductMutation, ProductQuery
from schema.subscriptions import Subscription
from schema.validation import ValidationErrorCodes

Query = merge_types(
    "Query",
    (
        ProductQuery,
        AdminQuery,
        ModelQuery,
        EndpointQuery,
        MetricQuery,
        DashboardQuery,
        InsightQuery,
        AlertQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        ProductMutation,
        MetricMutation,
        ModelMutation,
        EndpointMutation,
        DashboardMutation,
        AlertMutation,
    ),
)


def build_schema() -> strawberry.Schema:
    """The served schema. Unexpected exceptions are masked; deliberate errors are not."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            lambda: MaskErrors(should_mask_error=is_unexpected),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            ValidationErrorCodes,
        ],
    )


schema = build_schema()
