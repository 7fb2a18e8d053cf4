"""A circuit breaker per provider: stop sending to an upstream that keeps failing, probe it again after a pause.

    CLOSED ──(failure_threshold consecutive failures, or failure rate > failure_rate_threshold
    │         over window_secs once min_requests were seen)──▶ OPEN
    OPEN ──(cooldown_secs elapsed; noticed by the next `allow()` or `state`)──▶ HALF_OPEN
    HALF_OPEN ──(success_threshold successes)──▶ CLOSED
    HALF_OPEN ──(any failure)──▶ OPEN (the cool-down starts again)

Pure and single-threaded: the clock is injected, nothing sleeps or schedules. asyncio never preempts between
two statements without an `await`, so no lock is needed.
"""

from __future__ import annotations

import enum
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BreakerConfig", "BreakerState", "CircuitBreaker", "TransitionHook"]


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


TransitionHook = Callable[[str, BreakerState, BreakerState, str], None]
"""Called as `(provider, old, new, reason)` on every state change, after the change (for logs and metrics).

Reasons: `consecutive_failures`, `failure_rate`, `cooldown_elapsed`, `probe_failed`, `probes_succeeded`.
"""

_BUCKETS = 60
"""The failure-rate window is kept as this many time buckets, so memory does not grow with traffic."""


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Thresholds of one breaker; `ValueError` for values that cannot work."""

    failure_threshold: int = 5
    success_threshold: int = 2
    cooldown_secs: float = 30.0
    half_open_max_probes: int = 1
    window_secs: float = 60.0
    failure_rate_threshold: float = 0.5
    min_requests: int = 20

    def __post_init__(self) -> None:
        for name in ("failure_threshold", "success_threshold", "half_open_max_probes", "min_requests"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.cooldown_secs < 0 or self.window_secs <= 0:
            raise ValueError("cooldown_secs must be >= 0 and window_secs > 0")
        if not 0.0 < self.failure_rate_threshold <= 1.0:
            raise ValueError("failure_rate_threshold must be in (0, 1]")


class _Window:
    """Requests and failures over the last `span` seconds, in fixed buckets (precision: one bucket width)."""

    __slots__ = ("_buckets", "_width", "failures", "requests", "span")

    def __init__(self, span: float) -> None:
        self.span = span
        self._width = span / _BUCKETS
        self._buckets: deque[list[int]] = deque()  # [bucket number, requests, failures]
        self.requests = 0
        self.failures = 0

    def add(self, now: float, *, failed: bool) -> None:
        self.expire(now)
        number = math.floor(now / self._width)
        if not self._buckets or self._buckets[-1][0] != number:
            self._buckets.append([number, 0, 0])
        bucket = self._buckets[-1]
        bucket[1] += 1
        self.requests += 1
        if failed:
            bucket[2] += 1
            self.failures += 1

    def expire(self, now: float) -> None:
        """Drop the buckets that ended at least `span` seconds ago."""
        first_kept = math.floor((now - self.span) / self._width)
        while self._buckets and self._buckets[0][0] < first_kept:
            _, requests, failures = self._buckets.popleft()
            self.requests -= requests
            self.failures -= failures

    def clear(self) -> None:
        self._buckets.clear()
        self.requests = self.failures = 0


class CircuitBreaker:
    """The breaker of one provider.

    Contract with the caller: every `allow()` that returned True is followed by exactly one of
    `record_success`, `record_failure` or `release` (cancelled, or ended in a way that says nothing about the
    upstream, e.g. a client error). Results that arrive while OPEN (requests admitted before it opened) are
    ignored. A result that arrives while HALF_OPEN counts as probe evidence and frees one probe slot, even
    when the request was admitted earlier, while CLOSED: the breaker cannot tell them apart.
    """

    __slots__ = (
        "_clock",
        "_consecutive",
        "_on_transition",
        "_opened_at",
        "_probe_successes",
        "_probes",
        "_state",
        "_window",
        "config",
        "last_failure",
        "provider",
    )

    def __init__(
        self,
        provider: str,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_transition: TransitionHook | None = None,
    ) -> None:
        self.provider = provider
        self.config = config or BreakerConfig()
        self.last_failure: str | None = None
        """The `kind` of the most recent recorded failure (for logs and `/readyz`)."""
        self._clock = clock
        self._on_transition = on_transition
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._probes = 0
        self._probe_successes = 0
        self._window = _Window(self.config.window_secs)

    @property
    def state(self) -> BreakerState:
        """The current state; an OPEN breaker whose cool-down has elapsed becomes HALF_OPEN when read."""
        if self._state is BreakerState.OPEN:
            self._maybe_half_open()
        return self._state

    def allow(self) -> bool:
        """May a request go to this provider now? O(1); in HALF_OPEN a True reserves one probe slot."""
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN and not self._maybe_half_open():
            return False
        if self._probes >= self.config.half_open_max_probes:
            return False
        self._probes += 1
        return True

    def record_success(self, latency_s: float = 0.0) -> None:
        """The upstream answered usefully. `latency_s` is accepted for symmetry with `HealthTracker`; the
        breaker's decisions do not use it."""
        del latency_s
        if self._state is BreakerState.CLOSED:
            self._consecutive = 0
            self._window.add(self._clock(), failed=False)
        elif self._state is BreakerState.HALF_OPEN:
            self._free_probe()
            self._probe_successes += 1
            if self._probe_successes >= self.config.success_threshold:
                self._transition(BreakerState.CLOSED, "probes_succeeded")

    def record_failure(self, kind: str) -> None:
        """The upstream failed (`kind`: e.g. `connect_error`, `timeout`, `status_503`); may open the breaker."""
        self.last_failure = kind
        if self._state is BreakerState.CLOSED:
            now = self._clock()
            self._consecutive += 1
            self._window.add(now, failed=True)
            if self._consecutive >= self.config.failure_threshold:
                self._open(now, "consecutive_failures")
            elif (
                self._window.requests >= self.config.min_requests
                and self._window.failures / self._window.requests > self.config.failure_rate_threshold
            ):
                self._open(now, "failure_rate")
        elif self._state is BreakerState.HALF_OPEN:
            self._open(self._clock(), "probe_failed")

    def release(self) -> None:
        """An admitted request ended without saying anything about the upstream: free its probe slot, if any."""
        if self._state is BreakerState.HALF_OPEN:
            self._free_probe()

    def _free_probe(self) -> None:
        self._probes = max(0, self._probes - 1)

    def _maybe_half_open(self) -> bool:
        if self._clock() - self._opened_at < self.config.cooldown_secs:
            return False
        self._transition(BreakerState.HALF_OPEN, "cooldown_elapsed")
        return True

    def _open(self, now: float, reason: str) -> None:
        self._opened_at = now
        self._transition(BreakerState.OPEN, reason)

    def _transition(self, new: BreakerState, reason: str) -> None:
        old = self._state
        self._state = new
        self._probes = 0
        self._probe_successes = 0
        if new is BreakerState.CLOSED:
            self._consecutive = 0
            self._window.clear()
        if self._on_transition is not None:
            self._on_transition(self.provider, old, new, reason)
