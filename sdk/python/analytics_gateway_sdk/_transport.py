"""Sending one batch to the gateway: NDJSON events when it has them, GraphQL otherwise."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from analytics_gateway_sdk._kinds import Kind, Row, graphql_body, ndjson_body

TransportName = Literal["auto", "ndjson", "graphql"]

# Statuses where sending the same batch again can succeed.
_RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass
class Delivered:
    """What the gateway did with a batch it answered."""

    accepted: int
    duplicates: int
    rejected: int
    reasons: list[str] = field(default_factory=list)


class RetryableFailure(Exception):
    """The batch did not get through, and the same batch may succeed later. `busy`: the
    gateway is up and asks to come back later (429), which is no sign of failure."""

    def __init__(self, message: str, retry_after: float | None = None, busy: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.busy = busy


class FatalFailure(Exception):
    """The gateway refused the whole batch in a way a resend cannot fix (auth, bad input)."""


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _check_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    detail = f"HTTP {response.status_code}: {response.text[:200]}"
    if response.status_code in _RETRYABLE_STATUSES:
        raise RetryableFailure(
            detail,
            retry_after_seconds(response.headers.get("retry-after")),
            busy=response.status_code == 429,
        )
    raise FatalFailure(detail)


def _graphql_outcome(kind: Kind, answer: Any) -> Delivered:
    errors = answer.get("errors") or []
    if errors:
        message = "; ".join(str(e.get("message")) for e in errors)
        if any((e.get("extensions") or {}).get("retryable") for e in errors):
            raise RetryableFailure(message)
        raise FatalFailure(message)
    result = answer["data"][kind.mutation]
    rejected = result["rejected"]
    return Delivered(
        accepted=result["accepted"],
        duplicates=result["duplicates"],
        rejected=len(rejected),
        reasons=[f"row {r['index']} {r.get('field') or ''}: {r['message']}" for r in rejected],
    )


def _ndjson_outcome(answer: Any) -> Delivered:
    rejected = answer.get("rejected") or []
    return Delivered(
        accepted=answer["successful_rows"],
        duplicates=answer.get("duplicates", 0),
        rejected=answer.get("quarantined_rows", len(rejected)),
        reasons=[
            f"line {r.get('line')} {r.get('field') or ''}: {r.get('reason')}" for r in rejected
        ],
    )


class Transport:
    """Posts batches over one HTTP client; picks NDJSON or GraphQL per the gateway.

    In "auto" mode the first NDJSON batch is the probe: a 404 on /v0/events means
    this gateway has no events path, and every later batch goes to /graphql.
    """

    def __init__(
        self, url: str, token: str | None, timeout: float, mode: TransportName = "auto"
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)
        self._ndjson: bool | None = {"auto": None, "ndjson": True, "graphql": False}[mode]

    @property
    def name(self) -> str:
        """The path in use: ndjson, graphql, or undecided until the first answer."""
        return {None: "undecided", True: "ndjson", False: "graphql"}[self._ndjson]

    def send(self, kind: Kind, rows: Sequence[Row]) -> Delivered:
        """Deliver one batch of one kind, or raise RetryableFailure / FatalFailure."""
        try:
            if kind.datasource is not None and self._ndjson is not False:
                delivered = self._send_ndjson(kind.datasource, rows)
                if delivered is not None:
                    return delivered
            return self._send_graphql(kind, rows)
        except httpx.TransportError as error:
            raise RetryableFailure(f"{type(error).__name__}: {error}") from error
        except (ValueError, KeyError, TypeError) as error:
            raise RetryableFailure(f"unreadable answer: {error!r}") from error

    def _send_ndjson(self, datasource: str, rows: Sequence[Row]) -> Delivered | None:
        response = self._client.post(
            "/v0/events",
            params={"name": datasource},
            content=ndjson_body(rows),
            headers={"Content-Type": "application/x-ndjson"},
        )
        if response.status_code == 404 and self._ndjson is None:
            self._ndjson = False
            return None
        _check_status(response)
        self._ndjson = True
        return _ndjson_outcome(response.json())

    def _send_graphql(self, kind: Kind, rows: Sequence[Row]) -> Delivered:
        response = self._client.post(
            "/graphql",
            content=graphql_body(kind, rows),
            headers={"Content-Type": "application/json"},
        )
        _check_status(response)
        return _graphql_outcome(kind, response.json())

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()
