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
        """`acquire` without an await (it never waits for anything).

        One pass that takes each check's share as it goes; a check that does not fit gives back what the earlier
        ones took (nothing awaits in between, so no other request sees the partial state).
        """
        now = time.time() if now is None else now
        second = math.floor(now)
        oldest = second - WINDOW_S + 1
        reset = second + WINDOW_S - now
        results: list[CheckResult] = []
        for check in checks:
            key, kind, limit, cost, _ = check
            if kind == "rate":
                window = self._rates.get(key)
                if window is None:
                    window = self._rates[key] = _Window()
                buckets = window.buckets
                if buckets and buckets[0][0] < oldest:
                    window.prune(now)
                used = window.total + cost
                if used > limit:
                    self._give_back(checks[: len(results)], lease_id, second)
                    return self._refused(checks, now)
                if buckets and buckets[-1][0] == second:
                    buckets[-1][1] += cost
                    window.total = used
                else:
                    window.add(second, cost)
                results.append(CheckResult(limit, limit - used, reset))
            else:
                held = self._held(key, now)
                if len(held) >= limit:
                    self._give_back(checks[: len(results)], lease_id, second)
                    return self._refused(checks, now)
                held[lease_id] = now + LEASE_S
                results.append(CheckResult(limit, limit - len(held), 0.0))
        return Verdict(True, tuple(results))

    def _give_back(self, taken: Sequence[Check], lease_id: str, second: int) -> None:
        for key, kind, _, cost, _ in taken:
            if kind == "rate":
                self._rates[key].add(second, -cost)
            else:
                self._leases[key].pop(lease_id, None)

    def _refused(self, checks: Sequence[Check], now: float) -> Verdict:
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
        if not amount:
            return
        second = math.floor(at)
        if second <= math.floor(time.time()) - WINDOW_S:
            return  # that second has left the window: nothing counts it any more
        for key in counters:
            window = self._rates.get(key)
            if window is not None:
                window.add(second, amount)

    async def aclose(self) -> None:
        return None
