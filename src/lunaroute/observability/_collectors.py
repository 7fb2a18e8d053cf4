"""Scrape-time gauges: circuit breaker state and provider health, read from the live resilience state."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from lunaroute.routing._breaker import BreakerState
from lunaroute.routing._health import HealthStatus
from lunaroute.routing._resilience import Resilience

__all__ = ["BREAKER_VALUES", "HEALTH_VALUES", "ResilienceCollector"]

BREAKER_VALUES = {BreakerState.CLOSED: 0.0, BreakerState.HALF_OPEN: 1.0, BreakerState.OPEN: 2.0}
HEALTH_VALUES = {
    HealthStatus.HEALTHY: 1.0,
    HealthStatus.DEGRADED: 0.5,
    HealthStatus.UNHEALTHY: 0.0,
    HealthStatus.UNKNOWN: -1.0,
}


class ResilienceCollector(Collector):
    """`lunaroute_breaker_state`, `lunaroute_provider_health`, `lunaroute_provider_success_rate`,
    `lunaroute_provider_in_flight`, computed when `/metrics` is scraped."""

    def __init__(self, resilience: Resilience) -> None:
        self._resilience = resilience

    def collect(self) -> Iterator[GaugeMetricFamily]:
        resilience = self._resilience
        breaker = GaugeMetricFamily(
            "lunaroute_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", labels=["provider"]
        )
        health = GaugeMetricFamily(
            "lunaroute_provider_health",
            "Provider health: 1 healthy, 0.5 degraded, 0 unhealthy, -1 unknown (too few requests).",
            labels=["provider"],
        )
        rate = GaugeMetricFamily(
            "lunaroute_provider_success_rate",
            "Share of successful upstream attempts in the window.",
            labels=["provider"],
        )
        busy = GaugeMetricFamily(
            "lunaroute_provider_in_flight", "Upstream calls in progress per provider.", labels=["provider"]
        )
        snapshot = resilience.health.snapshot()
        for name in resilience.policies:
            breaker.add_metric([name], BREAKER_VALUES[resilience.state(name)])
            busy.add_metric([name], float(resilience.in_flight.get(name)))
            entry = snapshot.get(name)
            if entry is not None:
                health.add_metric([name], HEALTH_VALUES[entry.status])
                if entry.requests and entry.success_rate is not None:
                    rate.add_metric([name], entry.success_rate)
        yield breaker
        yield health
        yield rate
        yield busy
