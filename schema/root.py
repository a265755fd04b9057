"""The Schema: root types merged from each vertical, and its extensions."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache
from strawberry.tools import merge_types

from resolvers.errors import is_unexpected
from schema.admin import AdminQuery
from schema.products import ProductMutation, ProductQuery

Query = merge_types("Query", (ProductQuery, AdminQuery))
Mutation = merge_types("Mutation", (ProductMutation,))


def build_schema() -> strawberry.Schema:
    """The served schema. Unexpected exceptions are masked; deliberate errors are not."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=[
            lambda: MaskErrors(should_mask_error=is_unexpected),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
        ],
    )


schema = build_schema()
