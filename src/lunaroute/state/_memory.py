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
        oldest = math.floor(now) - WINDOW_S + 1
        buckets = self.buckets
        while buckets and buckets[0][0] < oldest:
            self.total -= buckets.popleft()[1]

    def add(self, second: int, amount: int) -> None:
        for bucket in reversed(self.buckets):
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
        elif leases and min(leases.values()) <= now:
            for lease in [k for k, until in leases.items() if until <= now]:
                del leases[lease]
        return leases

    async def acquire(self, checks: Sequence[Check], lease_id: str, now: float | None = None) -> Verdict:
        now = time.time() if now is None else now
        used: list[int] = []
        failed: int | None = None
        for i, check in enumerate(checks):
            count = self._window(check.key, now).total if check.kind == "rate" else len(self._held(check.key, now))
            used.append(count)
            if failed is None and count + check.cost > check.limit:
                failed = i
        if failed is not None:
            results = tuple(
                CheckResult(c.limit, max(0, c.limit - n), self._reset(c, now))
                for c, n in zip(checks, used, strict=True)
            )
            return Verdict(False, results, retry_after=self._retry_after(checks[failed], now), failed=failed)
        second = math.floor(now)
        results_list = []
        for check, count in zip(checks, used, strict=True):
            if check.kind == "rate":
                self._rates[check.key].add(second, check.cost)
                results_list.append(
                    CheckResult(check.limit, max(0, check.limit - count - check.cost), second + WINDOW_S - now)
                )
            else:
                self._leases[check.key][lease_id] = now + LEASE_S
                results_list.append(CheckResult(check.limit, max(0, check.limit - count - 1), 0.0))
        return Verdict(True, tuple(results_list))

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
