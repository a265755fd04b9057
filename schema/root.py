"""The Schema: root types merged from each vertical, and its extensions."""

from __future__ import annotations

import strawberry
from strawberry.extensions import ParserCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.access import AccessMutation, AccessQuery, OperationScope
from schema.admin import AdminQuery
from schema.alerts import AlertMutation, AlertQuery
from schema.dashboards import DashboardMutation, DashboardQuery
from schema.endpoints import EndpointMutation, EndpointQuery
from schema.errors import GatewaySchema, SafeErrors
from schema.execution import PlainFields
from schema.insights import InsightQuery
from schema.limits import QueryLimits
from schema.metrics import MetricMutation, MetricQuery
from schema.models import ModelMutation, ModelQuery
from schema.products import ProductMutation, ProductQuery
from schema.scalars import SCALARS
from schema.storable import StorableArguments
from schema.subscriptions import Subscription
from schema.validation import ValidationErrorCodes
from schema.validation_shapes import ShapeValidationCache
from schema.variables import CompiledVariables

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
        AccessQuery,
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
        AccessMutation,
    ),
)


class GatewayExecution(CompiledVariables, PlainFields):
    """Execution with list variables coerced by compiled plans (schema.variables) and
    plain selection sets completed in one pass (schema.execution)."""


def build_schema() -> strawberry.Schema:
    """The served schema. Errors are coded and unexpected ones masked (SafeErrors);
    the caller's scope and the document's limits are checked before execution."""
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            SafeErrors,
            QueryLimits,
            lambda: ParserCache(maxsize=256),
            ShapeValidationCache,
            ValidationErrorCodes,
            OperationScope,
            StorableArguments,
        ],
        config=StrawberryConfig(scalar_map=SCALARS),
        execution_context_class=GatewayExecution,
    )


schema = build_schema()
