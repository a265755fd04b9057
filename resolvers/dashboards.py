"""Dashboards: saved widget queries, who may see and change them, and running them.

A dashboard is owned by the token that created it (None: the admin secret).
Public ones are readable by any READ caller, the others by their owner and
ADMIN; only the owner and ADMIN change or delete one. A widget's data is its
query run through the same schema with the caller's context, so it has the
caller's rights and shares the request's loaders with its sibling widgets.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from graphql import (
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    parse,
    validate,
    visit,
)
from graphql.language import DocumentNode, FieldNode
from sqlalchemy.engine import RowMapping
from strawberry.scalars import JSON
from strawberry.types import Info

from db import dashboards as dashboard_sql
from resolvers.access import READ, Principal, require
from resolvers.arguments import bounded
from resolvers.context import context_of
from resolvers.errors import GatewayError, bad_input
from schema.dashboard_types import DashboardInput, WidgetInput

MAX_WIDGETS = 50
MAX_REFRESH_SECONDS = 86_400


def _viewer(principal: Principal) -> dashboard_sql.Viewer:
    return dashboard_sql.Viewer(principal.token_id, principal.is_admin)


def _sees(principal: Principal, row: RowMapping) -> bool:
    return principal.is_admin or row["is_public"] or _owns(principal, row)


def _owns(principal: Principal, row: RowMapping) -> bool:
    return principal.token_id is not None and row["owner"] == principal.token_id


async def dashboards(info: Info[Any, Any]) -> list[RowMapping]:
    """The dashboards the caller may read, by name."""
    principal = require(info, READ)
    async with context_of(info).db.read() as conn:
        return await dashboard_sql.listing(conn, _viewer(principal))


async def find_dashboard(info: Info[Any, Any], dashboard_id: str) -> RowMapping | None:
    """One dashboard, or None when it does not exist or the caller may not read it."""
    principal = require(info, READ)
    async with context_of(info).db.read() as conn:
        row = await dashboard_sql.find(conn, dashboard_id)
    return row if row is not None and _sees(principal, row) else None


async def create_dashboard(info: Info[Any, Any], given: DashboardInput) -> RowMapping:
    """Validate and store a new dashboard owned by the caller's token."""
    principal = require(info, READ)
    values = _checked(info, given)
    context = context_of(info)
    async with context.db.write() as conn:
        return await dashboard_sql.create(
            conn, uuid.uuid4().hex, principal.token_id, values, context.now
        )


async def update_dashboard(
    info: Info[Any, Any], dashboard_id: str, given: DashboardInput
) -> RowMapping:
    """Replace a dashboard's content; its owner or ADMIN only."""
    await _changeable(info, dashboard_id)
    values = _checked(info, given)
    context = context_of(info)
    async with context.db.write() as conn:
        row = await dashboard_sql.replace(conn, dashboard_id, values, context.now)
    if row is None:
        raise _not_found(dashboard_id)
    return row


async def delete_dashboard(info: Info[Any, Any], dashboard_id: str) -> bool:
    """Delete a dashboard (owner or ADMIN); false when there is none the caller sees."""
    try:
        await _changeable(info, dashboard_id)
    except GatewayError as error:
        if (error.extensions or {}).get("code") == "NOT_FOUND":
            return False
        raise
    async with context_of(info).db.write() as conn:
        return await dashboard_sql.remove(conn, dashboard_id)


async def _changeable(info: Info[Any, Any], dashboard_id: str) -> RowMapping:
    principal = require(info, READ)
    async with context_of(info).db.read() as conn:
        row = await dashboard_sql.find(conn, dashboard_id)
    if row is None or not _sees(principal, row):
        raise _not_found(dashboard_id)
    if not (principal.is_admin or _owns(principal, row)):
        raise GatewayError(
            f"dashboard {dashboard_id} belongs to another token; only its owner or ADMIN "
            "may change it",
            "FORBIDDEN",
        )
    return row


def _not_found(dashboard_id: str) -> GatewayError:
    return GatewayError(f"no dashboard with id {dashboard_id}", "NOT_FOUND")


def _checked(info: Info[Any, Any], given: DashboardInput) -> dict[str, Any]:
    """The stored columns of a DashboardInput, every widget query validated."""
    if not given.name.strip():
        raise bad_input("input.name is required and must not be empty", "input")
    if len(given.widgets) > MAX_WIDGETS:
        raise bad_input(f"input.widgets has {len(given.widgets)} widgets, at most {MAX_WIDGETS}")
    return {
        "name": given.name,
        "description": given.description,
        "is_public": bool(given.is_public),
        "widgets": [_widget(info, i, w) for i, w in enumerate(given.widgets)],
    }


def _widget(info: Info[Any, Any], index: int, given: WidgetInput) -> dict[str, Any]:
    where = f"input.widgets[{index}]"
    if not given.title.strip():
        raise bad_input(f"{where}.title is required and must not be empty", "input")
    for name, value in (("variables", given.variables), ("visualization", given.visualization)):
        if value is not None and not isinstance(value, dict):
            raise bad_input(f"{where}.{name} must be a JSON object or null", "input")
    refresh = 60 if given.refresh_seconds is None else given.refresh_seconds
    bounded(refresh, 1, MAX_REFRESH_SECONDS, f"{where}.refreshSeconds")
    problem = query_problem(info, given.query)
    if problem is not None:
        raise bad_input(f"{where}.query is not a valid query of this schema: {problem}", "input")
    return {
        "id": uuid.uuid4().hex,
        "title": given.title,
        "query": given.query,
        "variables": given.variables,
        "visualization": given.visualization,
        "refresh_seconds": refresh,
    }


def query_problem(info: Info[Any, Any], query: str) -> str | None:
    """Why a document may not be a widget's query (None when it may): it must parse,
    validate against the served schema, be one query operation and not run widgets."""
    schema = info.schema._schema
    try:
        document = parse(query)
    except GraphQLError as error:
        return error.message
    errors = validate(schema, document)
    if errors:
        return "; ".join(e.message for e in errors)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        return f"it must hold exactly one operation, it holds {len(operations)}"
    if operations[0].operation is not OperationType.QUERY:
        return f"it is a {operations[0].operation.value}; only queries may be saved"
    if _runs_widgets(schema, document):
        return "it selects Widget.data; a widget may not run other widgets"
    return None


def _runs_widgets(schema: Any, document: DocumentNode) -> bool:
    type_info = TypeInfo(schema)
    found: list[FieldNode] = []

    class WidgetData(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            parent = type_info.get_parent_type()
            if parent is not None and parent.name == "Widget" and node.name.value == "data":
                found.append(node)

    visit(document, TypeInfoVisitor(type_info, WidgetData()))
    return bool(found)


async def widget_data(info: Info[Any, Any], query: str, variables: JSON | None) -> JSON | None:
    """The `data` of running a widget's query as the caller, in the caller's request."""
    given = variables if isinstance(variables, dict) else None  # an object, checked on save
    result = await info.schema.execute(query, variable_values=given, context_value=info.context)
    return None if result.data is None else JSON(result.data)


def widget_rows(row: RowMapping) -> Sequence[dict[str, Any]]:
    """A dashboard row's widgets, in display order (keys: Widget's field names)."""
    widgets: list[dict[str, Any]] = row["widgets"]
    return widgets
