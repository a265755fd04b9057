"""Who is asking and what they may touch: the one place confinement lives.

Every read and write path asks this module (never the token table directly),
so a new field cannot forget confinement. The gateway authenticates each
request (gateway/auth.py) and puts its principal in the context; queries and
subscriptions need READ (checked once per operation by schema/access.py),
each write asks ``require`` for its own scope, and lists, lookups, counts and
ingest rows are confined to the principal's resources here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from strawberry.types import Info

from resolvers.errors import GatewayError

ADMIN = "ADMIN"
READ = "READ"
APPEND = "APPEND"


@dataclass(frozen=True)
class Principal:
    """The caller: its token (if any), scopes, and the resources it is confined to.

    ``resource_ids`` None means every product, endpoint, model and metric.
    """

    token_id: str | None
    scopes: frozenset[str]
    resource_ids: frozenset[str] | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.scopes

    def may(self, scope: str) -> bool:
        """Whether the caller holds scope (ADMIN holds every scope)."""
        return self.is_admin or scope in self.scopes

    def sees(self, resource_id: str) -> bool:
        """Whether the caller may read or write this product, endpoint, model or metric."""
        return self.resource_ids is None or resource_id in self.resource_ids


FULL_ACCESS = Principal(token_id=None, scopes=frozenset({ADMIN}))
# A websocket before its connection_init: may do nothing.
NO_ACCESS = Principal(token_id=None, scopes=frozenset())


def secret_hash(secret: str) -> str:
    """How a token's secret is stored and looked up (secrets are random, so one
    sha256 round is enough; a slow hash would guard guessable passwords)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def principal_of(info: Info[Any, Any]) -> Principal:
    """The caller of a resolver."""
    principal: Principal = info.context["gateway"].principal
    return principal


def require(info: Info[Any, Any], scope: str) -> Principal:
    """The caller, when it holds scope; a FORBIDDEN error otherwise."""
    principal = principal_of(info)
    if not principal.may(scope):
        raise GatewayError(f"this operation needs the {scope} scope", "FORBIDDEN")
    return principal


def visible(info: Info[Any, Any], resource_id: str) -> bool:
    """Whether the caller may see one resource (a direct lookup answers null if not)."""
    return principal_of(info).sees(resource_id)


def confine(info: Info[Any, Any], resource_ids: Iterable[str]) -> list[str]:
    """The subset of resource_ids the caller may see, in the given order."""
    principal = principal_of(info)
    return [r for r in resource_ids if principal.sees(r)]


def readable_ids(principal: Principal) -> frozenset[str] | None:
    """The resources a query may touch, for filtering in SQL (None: all of them)."""
    return principal.resource_ids


def write_refusal(principal: Principal, resource_id: str, what: str) -> str | None:
    """Why one ingest row may not be written (a per-row rejection), or None."""
    if principal.sees(resource_id):
        return None
    return f"this token may not write to {what} {resource_id!r}"
