"""Running a pipe: its stored document through the served schema, then rows in pipe order."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from gateway.pipes.params import RestError
from gateway.pipes.pipe import Pipe, Row
from resolvers.context import GatewayContext
from schema.root import schema

# entity -> (one-entity field, list field, GraphQL type, id parameter)
_ENTITIES = {
    "product": ("product", "products", "Product", "product_id"),
    "model": ("model", "models", "Model", "model_id"),
}
_STATUS_OF_CODE = {
    "BAD_USER_INPUT": 400,
    "QUERY_TOO_COMPLEX": 400,
    "FORBIDDEN": 403,
    "UNAUTHENTICATED": 401,
    "RATE_LIMITED": 429,
    "SERVICE_UNAVAILABLE": 503,
}


def document(pipe: Pipe) -> str:
    """The pipe's stored GraphQL document: one entity by id, or a page of all of them."""
    one, many, type_name, _ = _ENTITIES[pipe.entity]
    return (
        f"query Pipe($one: Boolean!, $id: ID!, $first: Int!, $after: String, {pipe.variables}) {{\n"
        f"  one: {one}(id: $id) @include(if: $one) {{ ...Entity }}\n"
        f"  many: {many}(first: $first, after: $after) @skip(if: $one) {{\n"
        "    nodes { ...Entity } pageInfo { hasNextPage endCursor }\n  }\n}\n"
        f"fragment Entity on {type_name} {{ id {pipe.selection} }}\n"
    )


async def run_pipe(pipe: Pipe, params: Mapping[str, str], context: GatewayContext) -> list[Row]:
    """Every row of the pipe for the caller in context, in the pipe's order, limited."""
    ceiling = context.settings.max_page_size
    # A pipe runs a stored document whose lists are bounded by the page size; the cost
    # limit guards documents that clients write, not these.
    context.settings = context.settings.model_copy(update={"max_cost": sys.maxsize})
    entity_id = params.get(_ENTITIES[pipe.entity][3]) or None
    variables: dict[str, Any] = pipe.read(params, context.now, ceiling)
    variables |= {"one": entity_id is not None, "id": entity_id or "", "first": ceiling}
    rows: list[Row] = []
    query = document(pipe)
    while True:
        result = await schema.execute(
            query, variable_values=variables, context_value={"gateway": context}
        )
        if result.errors:
            error = result.errors[0]
            code = (error.extensions or {}).get("code", "")
            raise RestError(error.message, _STATUS_OF_CODE.get(code, 500))
        assert result.data is not None
        if entity_id is not None:
            found = result.data["one"]
            entities, more = ([found] if found else []), False
        else:
            page = result.data["many"]
            entities, more = page["nodes"], page["pageInfo"]["hasNextPage"]
            variables["after"] = page["pageInfo"]["endCursor"]
        for entity in entities:
            rows += pipe.rows(entity, params)
        if not more:
            break
    return _ordered(rows, pipe.order)[: pipe.limit(params, ceiling)]


def _ordered(rows: list[Row], order: tuple[tuple[str, bool], ...]) -> list[Row]:
    """Rows sorted by each (column, descending) key; nulls sort first ascending."""
    for column, descending in reversed(order):
        rows.sort(key=lambda row: (row[column] is not None, row[column]), reverse=descending)
    return rows
