"""The circuit breaker's states on a clock the test moves."""

from __future__ import annotations

from analytics_gateway_sdk._breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_threshold_probes_after_cooldown_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown=10.0, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    assert (breaker.state, breaker.wait_time()) == ("closed", 0.0)
    breaker.record_failure()
    assert (breaker.state, breaker.is_open(), breaker.wait_time()) == ("open", True, 10.0)

    clock.now += 10.0
    assert (breaker.state, breaker.is_open(), breaker.wait_time()) == ("half_open", False, 0.0)
    breaker.record_failure()  # the probe failed: a whole new cool-down
    assert (breaker.state, breaker.wait_time()) == ("open", 10.0)

    clock.now += 10.0
    breaker.record_success()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "closed"  # the count started again


def test_a_success_between_failures_keeps_the_breaker_closed() -> None:
    breaker = CircuitBreaker(threshold=2, cooldown=1.0, clock=Clock())
    for _ in range(5):
        breaker.record_failure()
        breaker.record_success()
    assert breaker.state == "closed"
