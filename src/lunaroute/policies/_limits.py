"""The rate-limit policy: requests, tokens per minute and parallel requests per key, team and model.

Before routing, every limit that applies to a request (its key's, its team's — `teams:` — and those of
`limits:` whose model pattern matches) is checked and taken in one call to the state store, all or nothing. A
request over any limit gets 429 in its dialect with `retry-after` (whole seconds until it would fit). For
`tpm`, the request's input is reserved at the start (one token per four bytes of the body) and settled when the
answer has ended to the usage it reported (`UsageMeter`). The answer carries the tightest request and token
limits in the dialect's own rate-limit headers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fnmatch
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from lunaroute.config import LimitsConfig, ModelLimitConfig
from lunaroute.errors import Overloaded, RateLimited
from lunaroute.keys import KeyRecord
from lunaroute.policies._auth import Principal
from lunaroute.policies._budgets import BudgetHold, Budgets, price
from lunaroute.policies._meter import UsageMeter
from lunaroute.state import Check, MemoryState, StateUnavailable, Verdict
from lunaroute.types import Dialect

__all__ = ["Grant", "Limiter", "StateStore"]

_log = logging.getLogger("lunaroute.limits")


class StateStore(Protocol):
    """Counters shared by the limit checks (`lunaroute.state`: memory or Redis)."""

    name: str

    async def acquire(self, checks: Sequence[Check], lease_id: str, now: float | None = None) -> Verdict:
        """Admit all `checks` (taking their costs and leases) or none."""
        ...

    async def settle(
        self, leases: Sequence[str], lease_id: str, counters: Sequence[str] = (), at: float = 0.0, amount: int = 0
    ) -> None:
        """Release `lease_id` from `leases` and move the usage of `counters` recorded at `at` by `amount`."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Scope:
    """One limited scope: `name` for metrics (`key`, `team`, `model`), `key` its state-store prefix."""

    name: str
    key: str
    limits: LimitsConfig | KeyRecord


class _Rejected(RateLimited):
    pass


class _StateDown(Overloaded):
    code = "limits_unavailable"


def _openai_reset(seconds: float) -> str:
    """OpenAI's reset duration format: `1s`, `6m0s`, `250ms`."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(math.ceil(seconds), 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def _anthropic_reset(seconds: float, now: float) -> str:
    when = dt.datetime.fromtimestamp(now + seconds, dt.UTC).replace(microsecond=0)
    return when.isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class Grant:
    """An admitted request's share of the limits and budgets: its headers, its meter, and its settlement."""

    limiter: Limiter
    lease_id: str
    checks: tuple[Check, ...]
    verdict: Verdict | None
    at: float
    reserved: int
    meter: UsageMeter | None
    hold: BudgetHold | None = None
    _settled: bool = field(default=False)

    @property
    def reroute_model(self) -> str | None:
        """The model a budget sends this request to instead of the one it asked for."""
        return self.hold.reroute_model if self.hold is not None else None

    def headers(self, dialect: Dialect) -> dict[str, str]:
        """The tightest requests and tokens limits in `dialect`'s rate-limit header names, and the budget left
        once a budget's soft limit is passed."""
        out: dict[str, str] = {}
        if self.hold is not None and self.hold.remaining_usd is not None:
            out["x-lunaroute-budget-remaining-usd"] = f"{max(0.0, self.hold.remaining_usd):.4f}"
        if self.verdict is None:
            return out
        results = self.verdict.results
        for kind, unit in (("rpm", "requests"), ("tpm", "tokens")):
            indexes = [i for i, c in enumerate(self.checks) if c.unit == kind]
            if not indexes:
                continue
            best = min(indexes, key=lambda i: results[i].remaining)
            check, result = self.checks[best], results[best]
            if dialect == "anthropic":
                out[f"anthropic-ratelimit-{unit}-limit"] = str(check.limit)
                out[f"anthropic-ratelimit-{unit}-remaining"] = str(result.remaining)
                out[f"anthropic-ratelimit-{unit}-reset"] = _anthropic_reset(result.reset_s, self.at)
            else:
                out[f"x-ratelimit-limit-{unit}"] = str(check.limit)
                out[f"x-ratelimit-remaining-{unit}"] = str(result.remaining)
                out[f"x-ratelimit-reset-{unit}"] = _openai_reset(result.reset_s)
        return out

    def settle(self, provider: str | None = None, model: str | None = None, upstream_status: int | None = None) -> None:
        """Release the leases, settle the token reservation and the budget hold, off the request path (once).

        The request costs money only when `provider` answered it with a status below 400.
        """
        if self._settled:
            return
        self._settled = True
        answered = provider is not None and upstream_status is not None and upstream_status < 400
        self.limiter.settle_later(self, provider if answered else None, model)


def _unlimited(principal: Principal, teams: Mapping[str, LimitsConfig]) -> bool:
    record = principal.record
    return (
        record.rpm is None
        and record.tpm is None
        and record.max_parallel is None
        and record.budget_usd is None
        and (principal.team is None or principal.team not in teams)
    )


def _settlement(grant: Grant) -> tuple[list[str], list[str], int]:
    """What settling `grant` changes: its leases, its token counters, and their correction."""
    leases = [c.key for c in grant.checks if c.kind == "parallel"]
    counters = [c.key for c in grant.checks if c.unit == "tpm"]
    delta = grant.meter.tokens() - grant.reserved if grant.meter is not None and counters else 0
    return leases, counters, delta


class Limiter:
    """Owns the state store and the settlement tasks; `aclose()` waits for the tasks, then closes the store."""

    def __init__(
        self,
        state: StateStore,
        *,
        teams: Mapping[str, LimitsConfig],
        models: Sequence[ModelLimitConfig],
        on_unavailable: Literal["fail_open", "fail_closed"],
        budgets: Budgets | None = None,
        on_limited: Callable[[str, str], None] = lambda scope, kind: None,
        on_state_error: Callable[[str], None] = lambda outcome: None,
    ) -> None:
        self.state = state
        self.budgets = budgets
        self._teams = teams
        self._models = tuple(models)
        self._fail_open = on_unavailable == "fail_open"
        self._on_limited = on_limited
        self._on_state_error = on_state_error
        self._tasks: set[asyncio.Task[None]] = set()
        self._down = False

    def _scopes(self, principal: Principal | None, model: str | None) -> list[_Scope]:
        scopes: list[_Scope] = []
        if principal is not None:
            scopes.append(_Scope("key", f"key:{principal.key_id}", principal.record))
            team = self._teams.get(principal.team or "") if principal.team else None
            if team is not None:
                scopes.append(_Scope("team", f"team:{principal.team}", team))
        if model is not None:
            for rule in self._models:
                if fnmatch.fnmatchcase(model, rule.model):
                    scopes.append(_Scope("model", f"model:{rule.model}", rule))
        return scopes

    async def admit(self, principal: Principal | None, model: str | None, body: bytes, lease_id: str) -> Grant | None:
        """Take the request's share of every limit and budget that applies, or raise 429 (503 with the state
        store down and `fail_closed`). None when nothing applies."""
        if not self._models and (principal is None or _unlimited(principal, self._teams)):
            return None  # the common case of a key with no limits of its own or its team's: nothing to take
        reserve = max(1, len(body) // 4)
        checks: list[Check] = []
        scope_of: list[str] = []
        for scope in self._scopes(principal, model):
            limits = scope.limits
            if limits.rpm:
                checks.append(Check(f"{scope.key}:rpm", "rate", limits.rpm, unit="rpm"))
                scope_of.append(scope.name)
            if limits.tpm:
                checks.append(Check(f"{scope.key}:tpm", "rate", limits.tpm, cost=reserve, unit="tpm"))
                scope_of.append(scope.name)
            if limits.max_parallel:
                checks.append(Check(f"{scope.key}:parallel", "parallel", limits.max_parallel, unit="max_parallel"))
                scope_of.append(scope.name)
        budgeted = self.budgets is not None and self.budgets.applies(principal)
        if not checks and not budgeted:
            return None
        now = time.time()
        verdict = await self._check(checks, scope_of, lease_id, now) if checks else None
        metered = budgeted or any(c.unit == "tpm" for c in checks)
        taken = tuple(checks) if verdict is not None else ()
        grant = Grant(self, lease_id, taken, verdict, now, reserve, UsageMeter(len(body)) if metered else None)
        if budgeted:
            assert self.budgets is not None
            try:
                grant.hold = await self.budgets.reserve(principal, model, body, lease_id)
            except BaseException:
                grant.settle()  # give back what the limits took
                raise
        return grant

    async def _check(self, checks: list[Check], scope_of: list[str], lease_id: str, now: float) -> Verdict | None:
        try:
            verdict = await self.state.acquire(checks, lease_id, now)
        except StateUnavailable as exc:
            self._unavailable(exc)
            return None
        self._recovered()
        if not verdict.allowed:
            failed = verdict.failed or 0
            kind = checks[failed].unit
            self._on_limited(scope_of[failed], kind)
            what = {"rpm": "requests per minute", "tpm": "tokens per minute", "max_parallel": "parallel requests"}
            raise _Rejected(
                f"rate limit reached: the {scope_of[failed]}'s {what.get(kind, kind)} limit of "
                f"{checks[failed].limit}; retry after the time in retry-after",
                retry_after=max(1.0, math.ceil(verdict.retry_after)),
            )
        return verdict

    def _unavailable(self, exc: StateUnavailable) -> None:
        """Count and log the outage (once); raise 503 unless `fail_open`."""
        outcome = "fail_open" if self._fail_open else "fail_closed"
        self._on_state_error(outcome)
        if not self._down:
            self._down = True
            _log.warning("limit state store unavailable (%s): %s", outcome, exc)
        if not self._fail_open:
            raise _StateDown(
                "rate limits cannot be checked right now (their state store is unavailable)", retry_after=1
            )

    def _recovered(self) -> None:
        if self._down:
            self._down = False
            _log.warning("limit state store available again")

    def settle_later(self, grant: Grant, provider: str | None, model: str | None) -> None:
        if grant.hold is None and isinstance(self.state, MemoryState):
            # Nothing to wait for: settled at once, without a task.
            leases, counters, delta = _settlement(grant)
            self.state.settle_now(leases, grant.lease_id, counters, grant.at, delta)
            return
        task = asyncio.get_running_loop().create_task(self._settle(grant, provider, model))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self, grant: Grant, provider: str | None, model: str | None) -> None:
        try:
            leases, counters, delta = _settlement(grant)
            if leases or delta:
                await self.state.settle(leases, grant.lease_id, counters, grant.at, delta)
        except StateUnavailable as exc:
            _log.warning("could not settle a request's limits: %s", exc)
        if grant.hold is not None and self.budgets is not None:
            cost = 0.0
            if provider is not None and grant.meter is not None:
                input_tokens, output_tokens = grant.meter.usage()
                cost = price(provider, model, input_tokens, output_tokens) or 0.0
            try:
                await self.budgets.settle(grant.hold, cost)
            except Exception as exc:  # noqa: BLE001 - the ledger is a database: any failure is logged, the hold expires
                _log.warning("could not settle a request's budget hold (it expires): %s", exc)

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.state.aclose()
