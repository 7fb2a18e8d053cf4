"""The in-process state store: exact for one gateway process, gone when it stops."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from lunaroute.state._checks import LEASE_S, WINDOW_S, Check, CheckResult, Verdict, rate_retry_after

__all__ = ["MemoryState"]


class MemoryState:
    """Counters in dicts; every call runs without awaiting, so each is atomic on the event loop."""

    name = "memory"

    def __init__(self) -> None:
        self._rates: dict[str, dict[int, int]] = {}
        self._leases: dict[str, dict[str, float]] = {}

    def _window(self, key: str, now: float) -> dict[int, int]:
        buckets = self._rates.setdefault(key, {})
        oldest = math.floor(now) - WINDOW_S + 1
        for second in [s for s in buckets if s < oldest]:
            del buckets[second]
        return buckets

    def _held(self, key: str, now: float) -> dict[str, float]:
        leases = self._leases.setdefault(key, {})
        for lease in [k for k, until in leases.items() if until <= now]:
            del leases[lease]
        return leases

    async def acquire(self, checks: Sequence[Check], lease_id: str, now: float | None = None) -> Verdict:
        now = time.time() if now is None else now
        states: list[tuple[int, float, float | None]] = []  # (used, reset_s, retry_after if it does not fit)
        for check in checks:
            if check.kind == "rate":
                buckets = self._window(check.key, now)
                used = sum(buckets.values())
                reset = max(buckets) + WINDOW_S - now if buckets else 0.0
                fits = used + check.cost <= check.limit
                retry = None if fits else rate_retry_after(buckets, now, check.limit, check.cost)
            else:
                leases = self._held(check.key, now)
                used, reset = len(leases), 0.0
                fits = used + 1 <= check.limit
                retry = None if fits else 1.0
            states.append((used, reset, retry))
        failed = next((i for i, (_, _, retry) in enumerate(states) if retry is not None), None)
        if failed is not None:
            results = tuple(
                CheckResult(c.limit, max(0, c.limit - used), reset)
                for c, (used, reset, _) in zip(checks, states, strict=True)
            )
            return Verdict(False, results, retry_after=states[failed][2] or 0.0, failed=failed)
        second = math.floor(now)
        results_list = []
        for check, (used, reset, _) in zip(checks, states, strict=True):
            if check.kind == "rate":
                buckets = self._rates[check.key]
                buckets[second] = buckets.get(second, 0) + check.cost
                results_list.append(
                    CheckResult(check.limit, max(0, check.limit - used - check.cost), second + WINDOW_S - now)
                )
            else:
                self._leases[check.key][lease_id] = now + LEASE_S
                results_list.append(CheckResult(check.limit, max(0, check.limit - used - 1), reset))
        return Verdict(True, tuple(results_list))

    async def settle(
        self, leases: Sequence[str], lease_id: str, counters: Sequence[str] = (), at: float = 0.0, amount: int = 0
    ) -> None:
        """Drop `lease_id` from the `leases` sets, and add `amount` (may be negative) to the bucket of time `at`
        of each rate counter in `counters` that is still in the window."""
        for key in leases:
            self._leases.get(key, {}).pop(lease_id, None)
        now = time.time()
        second = math.floor(at)
        if not amount or second <= math.floor(now) - WINDOW_S:
            return
        for key in counters:
            buckets = self._window(key, now)
            buckets[second] = max(0, buckets.get(second, 0) + amount)

    async def aclose(self) -> None:
        return None
