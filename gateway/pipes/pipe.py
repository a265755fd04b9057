"""A pipe: the selection it asks of each product or model, and how answers become rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Row = dict[str, Any]
Params = Mapping[str, str]


@dataclass(frozen=True)
class Pipe:
    """One pipe: what it asks of each entity and how the answer becomes rows."""

    # "product" or "model"
    entity: str
    # the GraphQL variable definitions the selection uses, e.g. "$range: TimeRange"
    variables: str
    # fields selected on each entity besides its id
    selection: str
    # (column, ClickHouse type) in response order
    columns: tuple[tuple[str, str], ...]
    # (column, descending) sort keys, most significant first
    order: tuple[tuple[str, bool], ...]
    # query-string parameters, now and the page-size ceiling -> GraphQL variables
    read: Callable[[Params, datetime, int], dict[str, Any]]
    # one entity's answer -> its rows
    rows: Callable[[Any, Params], list[Row]]
    # rows kept after ordering (None: all)
    limit: Callable[[Params, int], int | None] = lambda params, ceiling: None
