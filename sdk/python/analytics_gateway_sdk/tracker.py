"""The Tracker: record rows from any thread or event loop; a background thread sends them."""

from __future__ import annotations

import asyncio
import atexit
import itertools
import logging
import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from analytics_gateway_sdk._breaker import CircuitBreaker
from analytics_gateway_sdk._kinds import (
    ACTUALS,
    API_REQUESTS,
    METRICS,
    PREDICTIONS,
    PRODUCT_EVENTS,
    Kind,
    Row,
)
from analytics_gateway_sdk._sender import RowQueue, Sender, SenderOptions
from analytics_gateway_sdk._transport import Transport, TransportName

logger = logging.getLogger("analytics_gateway_sdk")


@dataclass(frozen=True)
class TrackerOptions:
    """Every option `Tracker(url, token, **options)` takes, with its default."""

    max_queue: int = 10_000
    batch_size: int = 1_000
    flush_interval: float = 1.0
    timeout: float = 5.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    breaker_threshold: int = 5
    breaker_cooldown: float = 30.0
    shutdown_timeout: float = 5.0
    transport: TransportName = "auto"

    def __post_init__(self) -> None:
        """Refuse a configuration that cannot work, at startup rather than silently later."""
        for name in ("max_queue", "batch_size", "breaker_threshold"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("flush_interval", "timeout", "backoff_base", "backoff_max"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be more than 0 seconds, not {getattr(self, name)}")
        if self.breaker_cooldown < 0 or self.shutdown_timeout < 0:
            raise ValueError("breaker_cooldown and shutdown_timeout cannot be negative")
        if self.transport not in ("auto", "ndjson", "graphql"):
            raise ValueError(f"transport is auto, ndjson or graphql, not {self.transport!r}")


def _row(**fields: Any) -> Row:
    """The fields that were given; omitted ones take the gateway's defaults."""
    return {name: value for name, value in fields.items() if value is not None}


def _finite(value: float | None) -> float | None:
    """A number JSON can carry: one NaN in a GraphQL batch would fail all of it."""
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value} is not a finite number")
    return number


class Tracker:
    """Tracks rows into the analytics gateway at `url` (its base URL).

    Tracking calls queue a row and return at once: they never raise and never
    block. They return the row's id, generated here so that a resent batch is
    stored once. Options: see TrackerOptions; an unknown option is a TypeError and an
    impossible value a ValueError, here at construction.
    """

    def __init__(self, url: str, token: str | None = None, **options: Any) -> None:
        self.options = TrackerOptions(**options)
        self._url, self._token = url, token
        self._closed = False
        self._start()
        atexit.register(self.close)
        # Threads do not survive a fork (gunicorn --preload, multiprocessing): the child
        # needs a sender of its own, and ids of its own so its rows are not duplicates.
        os.register_at_fork(after_in_child=self._start)

    def _start(self) -> None:
        """A fresh queue, breaker, HTTP client, sender thread and id prefix."""
        options = self.options
        self._id_prefix = secrets.token_hex(6)
        self._ids = itertools.count(1)
        self._queue = RowQueue(options.max_queue)
        self._breaker = CircuitBreaker(options.breaker_threshold, options.breaker_cooldown)
        self._transport = Transport(self._url, self._token, options.timeout, options.transport)
        self._sender = Sender(
            self._queue,
            self._transport,
            self._breaker,
            SenderOptions(
                options.batch_size,
                options.flush_interval,
                options.backoff_base,
                options.backoff_max,
            ),
        )

    @property
    def stats(self) -> Mapping[str, Any]:
        """Rows sent (accepted or duplicate), dropped, retried and rejected; the breaker's
        state (closed, open, half_open); rows queued; the transport in use."""
        sender = self._sender
        return {
            "sent": sender.sent,
            "dropped": self._queue.dropped + sender.dropped,
            "retried": sender.retried,
            "rejected": sender.rejected,
            "duplicates": sender.duplicates,
            "queued": len(self._queue) + sender.held,
            "breaker": self._breaker.state,
            "transport": self._transport.name,
        }

    def _new_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids)}"

    def _refuse(self, what: str, error: Exception) -> None:
        """A row the caller built wrong: dropped and logged, never raised into the host."""
        self._queue.drop()
        logger.warning("analytics gateway: %s: %s", what, error)

    def _add(self, kind: Kind, row: Row) -> None:
        if self._closed or self._breaker.is_open():
            self._queue.drop()
            return
        queued = self._queue.put(kind, row)
        if queued and queued % self.options.batch_size == 0:
            self._sender.wake()

    def track_product_event(
        self,
        product_id: str,
        event_type: str,
        *,
        event_id: str | None = None,
        timestamp: datetime | None = None,
        product_name: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        duration_ms: float | None = None,
        error_code: str | None = None,
        page_load_time_ms: float | None = None,
        api_latency_ms: float | None = None,
        is_error: bool | None = None,
        source: str | None = None,
        device_type: str | None = None,
        country: str | None = None,
        properties: Any = None,
    ) -> str:
        """Track a ProductEventInput (a product usage or performance event)."""
        event_id = event_id or self._new_id()
        try:
            row = _row(
                event_id=event_id,
                timestamp=timestamp or datetime.now(UTC),
                product_id=product_id,
                product_name=product_name,
                event_type=event_type,
                user_id=user_id,
                session_id=session_id,
                duration_ms=_finite(duration_ms),
                error_code=error_code,
                page_load_time_ms=_finite(page_load_time_ms),
                api_latency_ms=_finite(api_latency_ms),
                is_error=is_error,
                source=source,
                device_type=device_type,
                country=country,
                properties=properties,
            )
            self._add(PRODUCT_EVENTS, row)
        except Exception as error:
            self._refuse("product event not tracked", error)
        return event_id

    def track_request(
        self,
        endpoint: str,
        status_code: int,
        latency_ms: float,
        *,
        method: str | None = None,
        request_id: str | None = None,
        timestamp: datetime | None = None,
        region: str | None = None,
        device_type: str | None = None,
        document_type: str | None = None,
        error_reason: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
    ) -> str:
        """Track an ApiRequestInput (one served API request)."""
        request_id = request_id or self._new_id()
        try:
            row = _row(
                request_id=request_id,
                timestamp=timestamp or datetime.now(UTC),
                endpoint=endpoint,
                method=method,
                status_code=int(status_code),
                latency_ms=_finite(latency_ms),
                region=region,
                device_type=device_type,
                document_type=document_type,
                error_reason=error_reason,
                user_id=user_id,
                session_id=session_id,
            )
            self._add(API_REQUESTS, row)
        except Exception as error:
            self._refuse("request not tracked", error)
        return request_id

    def track_prediction(
        self,
        model_id: str,
        model_version: str,
        predicted_value: float,
        *,
        prediction_id: str | None = None,
        timestamp: datetime | None = None,
        environment: str | None = None,
        features: Any = None,
        actual_value: float | None = None,
    ) -> str:
        """Track a PredictionInput; returns its id for a later record_actual."""
        prediction_id = prediction_id or self._new_id()
        try:
            row = _row(
                prediction_id=prediction_id,
                timestamp=timestamp or datetime.now(UTC),
                model_id=model_id,
                model_version=model_version,
                environment=environment,
                features=features,
                predicted_value=_finite(predicted_value),
                actual_value=_finite(actual_value),
            )
            self._add(PREDICTIONS, row)
        except Exception as error:
            self._refuse("prediction not tracked", error)
        return prediction_id

    def record_actual(self, prediction_id: str, actual_value: float) -> str:
        """Record an ActualInput: the ground truth of an earlier prediction."""
        try:
            row = _row(prediction_id=prediction_id, actual_value=_finite(actual_value))
            self._add(ACTUALS, row)
        except Exception as error:
            self._refuse("actual not recorded", error)
        return prediction_id

    def record_metric(
        self,
        name: str,
        type: str,
        value: float,
        *,
        timestamp: datetime | None = None,
        tags: Any = None,
        unit: str | None = None,
        source: str | None = None,
    ) -> str:
        """Record a MetricSampleInput; type is a MetricType (counter, gauge, histogram,
        timer, average), in any case."""
        try:
            row = _row(
                name=name,
                type=type.upper(),
                value=_finite(value),
                timestamp=timestamp or datetime.now(UTC),
                tags=tags,
                unit=unit,
                source=source,
            )
            self._add(METRICS, row)
        except Exception as error:
            self._refuse("metric not recorded", error)
        return name

    def flush_sync(self, timeout: float | None = None) -> bool:
        """Block until every row tracked so far is settled (sent, rejected or dropped),
        at most `timeout` seconds (default shutdown_timeout); False when time ran out."""
        return self._sender.flush(self.options.shutdown_timeout if timeout is None else timeout)

    async def flush(self, timeout: float | None = None) -> bool:
        """flush_sync without blocking the event loop."""
        return await asyncio.to_thread(self.flush_sync, timeout)

    def close(self) -> None:
        """Flush within shutdown_timeout, then stop; later tracking calls drop. Idempotent."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        if not self._sender.stop(self.options.shutdown_timeout):
            logger.warning("analytics gateway: shutdown flush timed out; rows were dropped")
