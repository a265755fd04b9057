"""Persisted queries in Apollo's automatic persisted query convention:
``extensions.persistedQuery.sha256Hash`` instead of (or beside) the document.

With GATEWAY_PERSISTED_ONLY, only documents an ADMIN registered (by sending the
document with its hash) are executed for other tokens.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from db.persisted import persist_document, persisted_document
from resolvers.context import GatewayContext
from resolvers.errors import GatewayError, bad_input

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def persisted_hash(extensions: Any) -> str | None:
    """The sha256Hash a request names, if any; BAD_USER_INPUT when it is malformed."""
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if persisted is None:
        return None
    digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise bad_input("extensions.persistedQuery.sha256Hash must be 64 lowercase hex digits")
    return digest


def _not_allowed() -> GatewayError:
    return GatewayError(
        "this gateway executes only persisted queries an ADMIN registered", NOT_ALLOWED
    )


async def document_for(context: GatewayContext, query: str | None, extensions: Any) -> str | None:
    """The document to execute: the one sent, or the one stored under the hash sent."""
    digest = persisted_hash(extensions)
    only = context.settings.persisted_only and not context.principal.is_admin
    if digest is None:
        if only:
            raise _not_allowed()
        return query
    if query is None:
        async with context.db.read() as conn:
            stored = await persisted_document(conn, digest)
        if stored is None or (only and not stored["allowed"]):
            raise GatewayError("PersistedQueryNotFound", NOT_FOUND)
        return str(stored["document"])
    if hashlib.sha256(query.encode()).hexdigest() != digest:
        raise bad_input("provided sha does not match query")
    if only:
        async with context.db.read() as conn:
            stored = await persisted_document(conn, digest)
        if stored is None or not stored["allowed"]:
            raise _not_allowed()
        return query
    async with context.db.write() as conn:
        await persist_document(conn, digest, query, allowed=context.principal.is_admin)
    return query
