"""Load-balancing strategies: the order in which a rule's providers are tried.

Each strategy returns a permutation of the candidates it is given: the first is the primary, the rest are the
fallbacks, in configured order (a strategy chooses the primary; it does not reshuffle the fallbacks). Callers
may pass a subset (e.g. without providers whose breaker is open); an empty list gives an empty list. Pure:
randomness, clocks and in-flight counts are injected.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

__all__ = [
    "InFlight",
    "LatencyAwareStrategy",
    "LeastBusyStrategy",
    "PriorityStrategy",
    "RoundRobinStrategy",
    "StickyStrategy",
    "Strategy",
    "WeightedRoundRobinStrategy",
]


class Strategy(Protocol):
    """Orders the providers of one rule for one request."""

    def order(self, candidates: Sequence[str], *, session_id: str | None = None) -> list[str]:
        """A permutation of `candidates`, primary first; `session_id` matters to sticky strategies only."""
        ...


def _primary_first(candidates: Sequence[str], primary: str) -> list[str]:
    return [primary, *(name for name in candidates if name != primary)]


class PriorityStrategy:
    """As configured: the primary, then the fallbacks."""

    def order(self, candidates: Sequence[str], *, session_id: str | None = None) -> list[str]:
        return list(candidates)


class RoundRobinStrategy:
    """Each call rotates the list by one more place, so every candidate is primary in turn."""

    def __init__(self) -> None:
        self._next = 0

    def order(self, candidates: Sequence[str], *, session_id: str | None = None) -> list[str]:
        if not candidates:
            return []
        start = self._next % len(candidates)
        self._next = start + 1
        return [*candidates[start:], *candidates[:start]]


class WeightedRoundRobinStrategy:
    """Smooth weighted round robin (as nginx): over any run of sum(weights) calls each candidate is primary
    exactly its weight's times, interleaved (3:1 gives a a b a). A candidate without a weight weighs
    `default_weight`; weight 0 makes a provider a fallback only (unless every candidate weighs 0)."""

    def __init__(self, weights: Mapping[str, int], *, default_weight: int = 1) -> None:
        if any(weight < 0 for weight in weights.values()) or default_weight < 0:
            raise ValueError("weights must be >= 0")
        self._weights = dict(weights)
        self._default = default_weight
        self._current: dict[str, int] = {}

    def order(self, candidates: Sequence[str], *, session_id: str | None = None) -> list[str]:
        if not candidates:
            return []
        weights = {name: self._weights.get(name, self._default) for name in candidates}
        total = sum(weights.values())
        if total == 0:
            return list(candidates)
        best: str | None = None
        for name in candidates:
            self._current[name] = self._current.get(name, 0) + weights[name]
            if best is None or self._current[name] > self._current[best]:
                best = name
        assert best is not None
        self._current[best] -= total
        return _primary_first(candidates, best)


class InFlight:
    """Requests in flight per provider: `acquire` when an attempt starts, `release` (in `finally`) when it
    ends. `get` is the callable `LeastBusyStrategy` wants."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def acquire(self, name: str) -> None:
        self._counts[name] = self._counts.get(name, 0) + 1

    def release(self, name: str) -> None:
        """Never goes below zero (a release without an acquire is ignored)."""
        count = self._counts.get(name, 0) - 1
        if count > 0:
            self._counts[name] = count
        else:
            self._counts.pop(name, None)

    def get(self, name: str) -> int:
        return self._counts.get(name, 0)


class LeastBusyStrategy:
    """Fewest requests in flight first; ties keep the configured order (the whole list is sorted, so the
    fallbacks are also least-busy first)."""

    def __init__(self, in_flight: Callable[[str], int]) -> None:
        self._in_flight = in_flight

    def order(self, candidates: Sequence[str], *, session_id: str | None = None) -> list[str]:
        return sorted(candidates, key=self._in_flight)


class LatencyAwareStrategy:
    """Power of two random choices: draw two distinct candidates, the one with the lower decaying latency
    average is primary. A provider with no latency yet counts as 0 s (tried optimistically, so it gets
    measured). With two candidates the faster always wins; the breaker, not this strategy, handles failures.
    """

    def __init__(self, latency: Callable[[str], float | None], rng: random.Random | None = None) -> None:
        self._latency = latency
        self._rng = rng or random.Random()

    def order(self, candidates: Sequence[str], *, session_id: str | None = None) -> list[str]:
        if len(candidates) < 2:
            return list(candidates)
        first, second = self._rng.sample(range(len(candidates)), 2)
        a, b = candidates[min(first, second)], candidates[max(first, second)]
        primary = b if self._cost(b) < self._cost(a) else a
        return _primary_first(candidates, primary)

    def _cost(self, name: str) -> float:
        latency = self._latency(name)
        return 0.0 if latency is None else latency


class StickyStrategy:
    """A session keeps the provider it first got as primary (its upstream prompt cache stays warm).

    A binding lasts `ttl_secs` after its last use; at most `max_sessions` are kept, least recently used
    dropped first. New sessions, requests without a session id, and sessions whose provider is not among the
    candidates (disabled, breaker open) go to `inner`; the session is then bound to the new primary.
    """

    def __init__(
        self,
        inner: Strategy,
        ttl_secs: float = 3600.0,
        max_sessions: int = 10_000,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_secs <= 0 or max_sessions < 1:
            raise ValueError("ttl_secs must be positive and max_sessions at least 1")
        self._inner = inner
        self._ttl = ttl_secs
        self._max = max_sessions
        self._clock = clock
        self._sessions: OrderedDict[str, tuple[str, float]] = OrderedDict()
        """session id -> (provider, expiry), least recently used first (hence also soonest expiry first)."""

    def __len__(self) -> int:
        return len(self._sessions)

    def order(self, candidates: Sequence[str], *, session_id: str | None = None) -> list[str]:
        if session_id is None:
            return self._inner.order(candidates, session_id=None)
        now = self._clock()
        self._expire(now)
        bound = self._sessions.get(session_id)
        if bound is not None and bound[0] in candidates:
            ordered = _primary_first(candidates, bound[0])
        else:
            ordered = self._inner.order(candidates, session_id=session_id)
        if ordered:
            self._sessions[session_id] = (ordered[0], now + self._ttl)
            self._sessions.move_to_end(session_id)
            if len(self._sessions) > self._max:
                self._sessions.popitem(last=False)
        return ordered

    def _expire(self, now: float) -> None:
        while self._sessions:
            _, (_, expiry) = next(iter(self._sessions.items()))
            if expiry > now:
                return
            self._sessions.popitem(last=False)
