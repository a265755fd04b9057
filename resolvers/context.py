"""The per-request context: database, settings, the request's clock and loaders."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from strawberry.types import Info

from db.engine import Database
from db.ingest.shape import RowContext
from gateway.alerting import Alerting
from gateway.live import Broker
from gateway.settings import Settings
from resolvers.access import FULL_ACCESS, Principal
from resolvers.loaders import Loaders
from resolvers.token_cache import TokenCache


@dataclass
class GatewayContext:
    """Everything a resolver may use. One per request; loaders never outlive it."""

    db: Database
    settings: Settings
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    principal: Principal = FULL_ACCESS
    # The process's live-update broker and alert notifier (None outside a served app).
    live: Broker | None = None
    alerting: Alerting | None = None
    # Charges the caller's rate limit where no HTTP layer did (websocket operations):
    # None when allowed, else seconds to wait.
    charge: Callable[[], float | None] | None = None
    # The process's recently read API tokens: a revocation here must forget its token.
    token_cache: TokenCache | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    loaders: Loaders = field(init=False)
    # Per-request answers that are the same for every item of a list.
    memo: dict[Hashable, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # At most max_request_connections connections at once for this request,
        # however many loaders run concurrently.
        self.db = self.db.gated(self.settings.max_request_connections)
        self.loaders = Loaders(self.db)

    def row_context(self) -> RowContext:
        """The clock and tolerance that ingest validation uses."""
        return RowContext(self.now, timedelta(seconds=self.settings.future_tolerance_seconds))


def context_of(info: Info[Any, Any]) -> GatewayContext:
    """The gateway context of a resolver call."""
    context: GatewayContext = info.context["gateway"]
    return context
