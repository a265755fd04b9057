"""The per-request context: database, settings, the request's clock and loaders."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from strawberry.types import Info

from db.engine import Database
from db.ingest.batch import RowContext
from gateway.settings import Settings
from resolvers.access import FULL_ACCESS, Principal
from resolvers.loaders import Loaders


@dataclass
class GatewayContext:
    """Everything a resolver may use. One per request; loaders never outlive it."""

    db: Database
    settings: Settings
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    principal: Principal = FULL_ACCESS
    loaders: Loaders = field(init=False)
    # Per-request answers that are the same for every item of a list.
    memo: dict[Hashable, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.db)

    def row_context(self) -> RowContext:
        """The clock and tolerance that ingest validation uses."""
        return RowContext(self.now, timedelta(seconds=self.settings.future_tolerance_seconds))


def context_of(info: Info[Any, Any]) -> GatewayContext:
    """The gateway context of a resolver call."""
    context: GatewayContext = info.context["gateway"]
    return context
