"""A circuit breaker: stop trying a gateway that keeps failing, probe it after a cool-down."""

from __future__ import annotations

import time
from collections.abc import Callable


class CircuitBreaker:
    """Closed until `threshold` consecutive failures; then open for `cooldown` seconds.

    After the cool-down it is half-open: the next send is the probe, whose success
    closes it and whose failure opens it again for another cool-down.
    """

    def __init__(
        self, threshold: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> str:
        """closed, open or half_open."""
        if self._opened_at is None:
            return "closed"
        return "open" if self.is_open() else "half_open"

    def is_open(self) -> bool:
        """True while rows must be dropped (open and still cooling down)."""
        opened = self._opened_at
        return opened is not None and self._clock() - opened < self.cooldown

    def wait_time(self) -> float:
        """Seconds until a send is allowed (0 when closed or half-open)."""
        opened = self._opened_at
        if opened is None:
            return 0.0
        return max(0.0, opened + self.cooldown - self._clock())

    def record_success(self) -> None:
        """The gateway answered: close."""
        self._failures = 0
        self._opened_at = None

    def record_failure(self) -> None:
        """A send failed; open on the threshold, or again when the probe failed."""
        self._failures += 1
        if self._opened_at is not None or self._failures >= self.threshold:
            self._opened_at = self._clock()
