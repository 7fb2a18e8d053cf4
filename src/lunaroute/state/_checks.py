"""What a limit check asks of a state store, and what it answers — pure data shared by every backend.

A *rate* counter is the usage of the last 60 seconds, kept in one-second buckets: a request is admitted when the
sum of the buckets still in the window plus its cost fits the limit, so no 60-second window ever holds more than
the limit. A *parallel* counter is a set of leases (request id → expiry): a request is admitted when fewer than
the limit are held. All the checks of one request are admitted together or not at all.

The three records are named tuples: every admitted request makes a few of them, and a tuple is the cheapest
immutable record to make.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

__all__ = ["WINDOW_S", "Check", "CheckResult", "Verdict", "rate_retry_after"]

WINDOW_S = 60
"""The window of every rate limit (requests and tokens per minute)."""
LEASE_S = 900.0
"""A parallel-request lease that is never released (a crashed process) expires after this."""


class Check(NamedTuple):
    """One counter to check for a request: `key` names it in the store (scope, name, kind)."""

    key: str
    kind: Literal["rate", "parallel"]
    limit: int
    cost: int = 1
    unit: str = ""
    """What the caller limits with it (`rpm`, `tpm`, `max_parallel`); not sent to the store."""


class CheckResult(NamedTuple):
    """A counter's state after the decision: `remaining` of `limit`, `reset_s` until it is whole again."""

    limit: int
    remaining: int
    reset_s: float


class Verdict(NamedTuple):
    """Whether every check fitted; when not, `retry_after` is the time until the first failing one would fit
    and `failed` is its index. `results` are in the order of the checks."""

    allowed: bool
    results: tuple[CheckResult, ...]
    retry_after: float = 0.0
    failed: int | None = None


def rate_retry_after(buckets: dict[int, int], now: float, limit: int, cost: int) -> float:
    """Seconds until enough of `buckets` (second → usage, all inside the window) has left the window for `cost`
    more to fit under `limit`; `WINDOW_S` when `cost` alone is over the limit."""
    if cost > limit:
        return float(WINDOW_S)
    used = sum(buckets.values())
    for second in sorted(buckets):
        used -= buckets[second]
        if used + cost <= limit:
            return max(0.0, second + WINDOW_S - now)
    return float(WINDOW_S)
