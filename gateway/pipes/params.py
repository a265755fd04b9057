"""Reading a pipe's query-string parameters the way Tinybird accepts them.

Every parser names the parameter and the value it could not read, so a
malformed request becomes a 400 the caller can act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any


class RestError(Exception):
    """A REST request (pipe, export, metrics) the gateway cannot answer, with its HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def timestamp(params: Mapping[str, str], name: str) -> str | None:
    """A `YYYY-MM-DD HH:MM:SS` (UTC) or ISO-8601 parameter as ISO-8601, None when absent."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        parsed = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise RestError(
            f"{name}: {raw!r} is not a timestamp (YYYY-MM-DD HH:MM:SS or ISO-8601)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.isoformat()


def time_range(params: Mapping[str, str]) -> dict[str, str]:
    """start_date and end_date as a TimeRange input (omitted bounds default as usual)."""
    bounds = {"from": timestamp(params, "start_date"), "to": timestamp(params, "end_date")}
    return {key: value for key, value in bounds.items() if value is not None}


def positive_int(params: Mapping[str, str], name: str, default: int, ceiling: int) -> int:
    """A whole number in [1, ceiling]; default when absent."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RestError(f"{name}: {raw!r} is not a whole number") from None
    if not 1 <= value <= ceiling:
        raise RestError(f"{name}: {value} is outside 1..{ceiling}")
    return value


def choice(params: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    """One of allowed (case-insensitive); default when absent."""
    raw = params.get(name) or default
    if raw.lower() not in allowed:
        raise RestError(f"{name}: {raw!r} is not one of {', '.join(allowed)}")
    return raw.lower()


def text(params: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    """A free-text parameter; default when absent or empty."""
    return params.get(name) or default


def hours_before(now: datetime, hours: int) -> dict[str, str]:
    """The TimeRange [now - hours, now)."""
    return {"from": (now - timedelta(hours=hours)).isoformat(), "to": now.isoformat()}


def clickhouse_time(value: Any) -> Any:
    """An ISO-8601 DateTime as ClickHouse writes it in JSON: `YYYY-MM-DD HH:MM:SS` (UTC)."""
    if not isinstance(value, str):
        return value
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return parsed.strftime("%Y-%m-%d %H:%M:%S")
