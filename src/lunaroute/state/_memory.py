"""The in-process state store: exact for one gateway process, gone when it stops."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Sequence

from lunaroute.state._checks import LEASE_S, WINDOW_S, Check, CheckResult, Verdict, rate_retry_after

__all__ = ["MemoryState"]


class _Window:
    """One rate counter: one-second buckets (oldest first) and their running total."""

    __slots__ = ("buckets", "total")

    def __init__(self) -> None:
        self.buckets: deque[list[int]] = deque()
        self.total = 0

    def prune(self, now: float) -> None:
        buckets = self.buckets
        if not buckets:
            return
        oldest = math.floor(now) - WINDOW_S + 1
        while buckets and buckets[0][0] < oldest:
            self.total -= buckets.popleft()[1]

    def add(self, second: int, amount: int) -> None:
        buckets = self.buckets
        if buckets and buckets[-1][0] == second:
            buckets[-1][1] += amount
            self.total += amount
            return
        for bucket in reversed(buckets):
            if bucket[0] == second:
                bucket[1] += amount
                self.total += amount
                return
            if bucket[0] < second:
                break
        if not self.buckets or self.buckets[-1][0] < second:
            self.buckets.append([second, amount])
            self.total += amount


class MemoryState:
    """Counters in dicts; every call runs without awaiting, so each is atomic on the event loop."""

    name = "memory"

    def __init__(self) -> None:
        self._rates: dict[str, _Window] = {}
        self._leases: dict[str, dict[str, float]] = {}

    def _window(self, key: str, now: float) -> _Window:
        window = self._rates.get(key)
        if window is None:
            window = self._rates[key] = _Window()
        window.prune(now)
        return window

    def _held(self, key: str, now: float) -> dict[str, float]:
        leases = self._leases.get(key)
        if leases is None:
            leases = self._leases[key] = {}
        elif leases and next(iter(leases.values())) <= now:
            # Leases are added in time order with the same lifetime, so the first one held expires first.
            for lease in [k for k, until in leases.items() if until <= now]:
                del leases[lease]
        return leases

    async def acquire(self, checks: Sequence[Check], lease_id: str, now: float | None = None) -> Verdict:
        return self.acquire_now(checks, lease_id, now)

    def acquire_now(self, checks: Sequence[Check], lease_id: str, now: float | None = None) -> Verdict:
        """`acquire` without an await (it never waits for anything)."""
        now = time.time() if now is None else now
        second = math.floor(now)
        oldest = second - WINDOW_S + 1
        rates = self._rates
        counts: list[int] = []
        for check in checks:
            if check.kind == "rate":
                window = rates.get(check.key)
                if window is None:
                    window = rates[check.key] = _Window()
                elif window.buckets and window.buckets[0][0] < oldest:
                    window.prune(now)
                count = window.total
            else:
                count = len(self._held(check.key, now))
            if count + check.cost > check.limit:
                return self._refused(checks, lease_id, now)
            counts.append(count)
        reset = second + WINDOW_S - now
        results: list[CheckResult] = []
        for check, count in zip(checks, counts, strict=True):
            if check.kind == "rate":
                rates[check.key].add(second, check.cost)
                results.append(CheckResult(check.limit, max(0, check.limit - count - check.cost), reset))
            else:
                self._leases[check.key][lease_id] = now + LEASE_S
                results.append(CheckResult(check.limit, max(0, check.limit - count - 1), 0.0))
        return Verdict(True, tuple(results))

    def _refused(self, checks: Sequence[Check], lease_id: str, now: float) -> Verdict:
        used = [self._window(c.key, now).total if c.kind == "rate" else len(self._held(c.key, now)) for c in checks]
        failed = next(i for i, (c, n) in enumerate(zip(checks, used, strict=True)) if n + c.cost > c.limit)
        results = tuple(
            CheckResult(c.limit, max(0, c.limit - n), self._reset(c, now)) for c, n in zip(checks, used, strict=True)
        )
        return Verdict(False, results, retry_after=self._retry_after(checks[failed], now), failed=failed)

    def _reset(self, check: Check, now: float) -> float:
        if check.kind != "rate":
            return 0.0
        buckets = self._rates[check.key].buckets
        return buckets[-1][0] + WINDOW_S - now if buckets else 0.0

    def _retry_after(self, check: Check, now: float) -> float:
        if check.kind != "rate":
            return 1.0
        buckets = {second: count for second, count in self._rates[check.key].buckets}
        return rate_retry_after(buckets, now, check.limit, check.cost)

    async def settle(
        self, leases: Sequence[str], lease_id: str, counters: Sequence[str] = (), at: float = 0.0, amount: int = 0
    ) -> None:
        self.settle_now(leases, lease_id, counters, at, amount)

    def settle_now(
        self, leases: Sequence[str], lease_id: str, counters: Sequence[str] = (), at: float = 0.0, amount: int = 0
    ) -> None:
        """Drop `lease_id` from the `leases` sets, and add `amount` (may be negative) to the bucket of time `at`
        of each rate counter in `counters` that is still in the window (no await: callable off a coroutine)."""
        for key in leases:
            held = self._leases.get(key)
            if held is not None:
                held.pop(lease_id, None)
        now = time.time()
        second = math.floor(at)
        if not amount or second <= math.floor(now) - WINDOW_S:
            return
        for key in counters:
            window = self._window(key, now)
            window.add(second, amount)

    async def aclose(self) -> None:
        return None
