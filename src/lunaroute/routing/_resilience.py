"""Per-provider resilience state: circuit breaker, health, in-flight count, retry policy and deadline."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from lunaroute.routing._breaker import BreakerConfig, BreakerState, CircuitBreaker
from lunaroute.routing._health import HealthConfig, HealthTracker
from lunaroute.routing._retry import RetryPolicy
from lunaroute.routing._strategies import InFlight

__all__ = ["ProviderPolicy", "Resilience"]

_log = logging.getLogger("lunaroute.routing")

TransitionListener = Callable[[str, BreakerState, BreakerState, str], None]


@dataclass(frozen=True, slots=True)
class ProviderPolicy:
    """What a provider's config says about retrying it."""

    retry: RetryPolicy
    total_timeout_s: float | None


class Resilience:
    """The shared, in-process resilience state of every provider (one per gateway process)."""

    def __init__(
        self,
        policies: Mapping[str, ProviderPolicy],
        *,
        breaker: BreakerConfig | None,
        health: HealthConfig,
        on_transition: TransitionListener | None = None,
    ) -> None:
        self.policies = dict(policies)
        self.health = HealthTracker(health, providers=policies)
        self.in_flight = InFlight()
        self._listener = on_transition
        self.breakers: dict[str, CircuitBreaker] = {}
        if breaker is not None:
            self.breakers = {name: CircuitBreaker(name, breaker, on_transition=self._transition) for name in policies}

    def carry_over(self, previous: Resilience, kept: Iterable[str]) -> None:
        """Continue `previous` across a config reload: the in-flight counts (requests started before the reload
        end on the same counters), and the breaker and health of each provider in `kept` (its config did not
        change) when the breaker and health settings did not change either. Call before the strategies are
        built: they read `in_flight`."""
        self.in_flight = previous.in_flight
        for name in kept:
            old, new = previous.breakers.get(name), self.breakers.get(name)
            if old is not None and new is not None and old.config == new.config:
                self.breakers[name] = old
            self.health.adopt(name, previous.health)

    def _transition(self, provider: str, old: BreakerState, new: BreakerState, reason: str) -> None:
        _log.warning(
            "circuit breaker %s: %s -> %s (%s)",
            provider,
            old.value,
            new.value,
            reason,
            extra={"provider": provider, "from_state": old.value, "to_state": new.value, "reason": reason},
        )
        if self._listener is not None:
            self._listener(provider, old, new, reason)

    def allow(self, provider: str) -> bool:
        breaker = self.breakers.get(provider)
        return breaker is None or breaker.allow()

    def succeeded(self, provider: str, latency_s: float) -> None:
        self.health.record_success(provider, latency_s)
        breaker = self.breakers.get(provider)
        if breaker is not None:
            breaker.record_success(latency_s)

    def failed(self, provider: str, kind: str) -> None:
        self.health.record_failure(provider, kind)
        breaker = self.breakers.get(provider)
        if breaker is not None:
            breaker.record_failure(kind)

    def abandoned(self, provider: str) -> None:
        """An admitted attempt ended neither way (the client left): free a half-open probe slot."""
        breaker = self.breakers.get(provider)
        if breaker is not None:
            breaker.release()

    def state(self, provider: str) -> BreakerState:
        breaker = self.breakers.get(provider)
        return breaker.state if breaker is not None else BreakerState.CLOSED

    def policy(self, provider: str) -> ProviderPolicy:
        return self.policies.get(provider) or ProviderPolicy(RetryPolicy(max_retries=0, rng=random.Random()), None)
