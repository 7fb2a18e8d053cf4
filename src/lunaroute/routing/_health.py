"""Provider health: success rate and latency over a sliding window, and a time-decaying latency average.

Status (defaults of the Rust LunaRoute health monitor): `unknown` below `min_requests` in the window, then
`healthy` at a success rate >= 0.95, `unhealthy` below 0.75, `degraded` in between. Pure: the clock is
injected; `snapshot()` builds the typed body of `/readyz`.
"""

from __future__ import annotations

import enum
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import msgspec

__all__ = ["HealthConfig", "HealthStatus", "HealthTracker", "ProviderHealth"]


class HealthStatus(enum.StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """`max_samples` bounds memory per provider: beyond it the window holds the most recent samples only."""

    window_secs: float = 60.0
    min_requests: int = 10
    healthy_success_rate: float = 0.95
    unhealthy_success_rate: float = 0.75
    ewma_half_life_secs: float = 10.0
    max_samples: int = 10_000

    def __post_init__(self) -> None:
        if self.window_secs <= 0 or self.ewma_half_life_secs <= 0:
            raise ValueError("window_secs and ewma_half_life_secs must be positive")
        if self.min_requests < 1 or self.max_samples < 1:
            raise ValueError("min_requests and max_samples must be at least 1")
        if not 0.0 <= self.unhealthy_success_rate <= self.healthy_success_rate <= 1.0:
            raise ValueError("need 0 <= unhealthy_success_rate <= healthy_success_rate <= 1")


class ProviderHealth(msgspec.Struct, frozen=True, kw_only=True):
    """One provider in `/readyz`. Latencies are in seconds, over the successes in the window (None: none)."""

    status: HealthStatus
    requests: int
    success_rate: float | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    ewma_latency_s: float | None
    last_failure: str | None


class _Decaying:
    """The time-decayed mean: each sample weighs 2**(-age / half_life). Samples at the same instant weigh the
    same, so a burst is averaged rather than reduced to its last value."""

    __slots__ = ("_at", "_half_life", "_sum", "_weight")

    def __init__(self, half_life: float) -> None:
        self._half_life = half_life
        self._sum = 0.0
        self._weight = 0.0
        self._at = 0.0

    def add(self, now: float, value: float) -> None:
        decay = 2.0 ** (-(now - self._at) / self._half_life) if self._weight else 0.0
        self._sum = self._sum * decay + value
        self._weight = self._weight * decay + 1.0
        self._at = now

    @property
    def value(self) -> float | None:
        return self._sum / self._weight if self._weight else None


class _Provider:
    __slots__ = ("ewma", "last_failure", "samples")

    def __init__(self, config: HealthConfig) -> None:
        self.samples: deque[tuple[float, float | None]] = deque(maxlen=config.max_samples)
        """(time, latency) per request in the window; latency None marks a failure."""
        self.ewma = _Decaying(config.ewma_half_life_secs)
        self.last_failure: str | None = None


class HealthTracker:
    """Health of every provider it has heard of (or was told about at construction).

    Feed it `record_success`/`record_failure` once per upstream attempt. Failures do not move the latency
    average: the breaker, not the latency-aware strategy, keeps traffic off a failing provider.
    """

    def __init__(
        self,
        config: HealthConfig | None = None,
        *,
        providers: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or HealthConfig()
        self._clock = clock
        self._providers: dict[str, _Provider] = {name: _Provider(self.config) for name in providers}

    def _get(self, name: str) -> _Provider:
        entry = self._providers.get(name)
        if entry is None:
            entry = self._providers[name] = _Provider(self.config)
        return entry

    def adopt(self, provider: str, previous: HealthTracker) -> None:
        """Take over `previous`'s window and latency average of `provider` (a config reload that kept it), when
        both trackers judge by the same settings."""
        entry = previous._providers.get(provider)
        if entry is not None and previous.config == self.config:
            self._providers[provider] = entry

    def record_success(self, provider: str, latency_s: float) -> None:
        now = self._clock()
        entry = self._get(provider)
        entry.samples.append((now, latency_s))
        entry.ewma.add(now, latency_s)

    def record_failure(self, provider: str, kind: str) -> None:
        entry = self._get(provider)
        entry.samples.append((self._clock(), None))
        entry.last_failure = kind

    def ewma_latency(self, provider: str) -> float | None:
        """The decaying latency average in seconds, None before the first success (O(1); for strategies)."""
        entry = self._providers.get(provider)
        return entry.ewma.value if entry is not None else None

    def status(self, provider: str) -> HealthStatus:
        return self._health(provider).status

    def snapshot(self) -> dict[str, ProviderHealth]:
        """Every known provider's health now, by name, ready for `msgspec.json.encode`."""
        return {name: self._health(name) for name in self._providers}

    def _window(self, entry: _Provider) -> deque[tuple[float, float | None]]:
        horizon = self._clock() - self.config.window_secs
        samples = entry.samples
        while samples and samples[0][0] <= horizon:
            samples.popleft()
        return samples

    def _health(self, name: str) -> ProviderHealth:
        entry = self._providers.get(name)
        if entry is None:
            return ProviderHealth(
                status=HealthStatus.UNKNOWN,
                requests=0,
                success_rate=None,
                latency_p50_s=None,
                latency_p95_s=None,
                ewma_latency_s=None,
                last_failure=None,
            )
        samples = self._window(entry)
        latencies = sorted(latency for _, latency in samples if latency is not None)
        requests = len(samples)
        rate = len(latencies) / requests if requests else None
        return ProviderHealth(
            status=self._classify(requests, rate),
            requests=requests,
            success_rate=rate,
            latency_p50_s=_percentile(latencies, 0.50),
            latency_p95_s=_percentile(latencies, 0.95),
            ewma_latency_s=entry.ewma.value,
            last_failure=entry.last_failure,
        )

    def _classify(self, requests: int, rate: float | None) -> HealthStatus:
        if rate is None or requests < self.config.min_requests:
            return HealthStatus.UNKNOWN
        if rate >= self.config.healthy_success_rate:
            return HealthStatus.HEALTHY
        if rate < self.config.unhealthy_success_rate:
            return HealthStatus.UNHEALTHY
        return HealthStatus.DEGRADED


def _percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
