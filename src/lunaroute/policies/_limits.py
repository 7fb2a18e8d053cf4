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
from lunaroute.policies._budgets import BudgetHold, Budgets
from lunaroute.policies._headers import NAMES, anthropic_reset, openai_reset
from lunaroute.policies._meter import UsageMeter
from lunaroute.state import Check, CheckResult, MemoryState, StateUnavailable, Verdict
from lunaroute.types import Dialect

__all__ = ["Grant", "Limiter", "StateStore"]

_log = logging.getLogger("lunaroute.limits")
_MAX_PLANS = 4096
"""Plans kept per process (one per key, or per key and model when `limits:` has model rules)."""


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


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the requests of one key (for one model) take: built once, reused until the key's record changes.

    `checks` hold a placeholder cost for the `tpm` ones (at `tpm`), replaced by each request's reservation.
    """

    record: KeyRecord | None
    checks: tuple[Check, ...]
    scope_of: tuple[str, ...]
    tpm: tuple[int, ...]
    requests: tuple[int, ...]
    leases: tuple[str, ...]
    counters: tuple[str, ...]
    budgeted: bool
    limit_text: tuple[str, ...]
    """Each check's limit as its header shows it."""
    header_units: tuple[tuple[tuple[tuple[int, ...], tuple[str, str, str]], ...], ...] = ((), ())
    """Per dialect (OpenAI, Anthropic): the checks of each unit with headers (requests, tokens) and the three
    header names of that unit."""

    @property
    def idle(self) -> bool:
        """Nothing to take: no limit applies and no budget."""
        return not self.checks and not self.budgeted

    def checks_for(self, reserve: int) -> tuple[Check, ...]:
        """The checks with `reserve` as the cost of the `tpm` ones."""
        checks = self.checks
        for i in self.tpm:
            check = checks[i]
            checks = (*checks[:i], Check(check.key, "rate", check.limit, reserve, "tpm"), *checks[i + 1 :])
        return checks


def _header_units(
    checks: Sequence[Check],
) -> tuple[tuple[tuple[tuple[int, ...], tuple[str, str, str]], ...], ...]:
    units = []
    for dialect in ("openai", "anthropic"):
        per_dialect = []
        for kind, unit in (("rpm", "requests"), ("tpm", "tokens")):
            indexes = tuple(i for i, c in enumerate(checks) if c.unit == kind)
            if indexes:
                per_dialect.append((indexes, NAMES[dialect, unit]))
        units.append(tuple(per_dialect))
    return tuple(units)


def _tightest(indexes: tuple[int, ...], results: tuple[CheckResult, ...]) -> int:
    if len(indexes) == 1:
        return indexes[0]
    return min(indexes, key=lambda i: results[i].remaining)


@dataclass(slots=True)
class Grant:
    """An admitted request's share of the limits and budgets: its headers, its meter, and its settlement."""

    limiter: Limiter
    lease_id: str
    plan: _Plan
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
        verdict = self.verdict
        if verdict is None:
            return out
        plan, results, at = self.plan, verdict.results, self.at
        anthropic = dialect == "anthropic"
        for indexes, (limit_name, remaining_name, reset_name) in plan.header_units[anthropic]:
            best = indexes[0] if len(indexes) == 1 else _tightest(indexes, results)
            result = results[best]
            out[limit_name] = plan.limit_text[best]
            out[remaining_name] = str(result.remaining)
            out[reset_name] = anthropic_reset(result.reset_s, at) if anthropic else openai_reset(result.reset_s)
        return out

    def settle(self, provider: str | None = None, model: str | None = None, upstream_status: int | None = None) -> None:
        """Release the leases, settle the token reservation and the budget hold, off the request path (once).

        The request costs money only when `provider` answered it with a status below 400.
        """
        if self._settled:
            return
        self._settled = True
        memory = self.limiter.memory
        if memory is not None and self.hold is None:
            # Nothing to wait for: settled at once, without a task.
            if self.verdict is not None:
                plan, meter = self.plan, self.meter
                delta = meter.tokens() - self.reserved if meter is not None and plan.counters else 0
                memory.settle_now(plan.leases, self.lease_id, plan.counters, self.at, delta)
            return
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


def _settlement(grant: Grant) -> tuple[tuple[str, ...], tuple[str, ...], int]:
    """What settling `grant` changes: its leases, its token counters, and their correction (nothing when the
    limits were not taken: the state store was down and `fail_open` let the request through)."""
    if grant.verdict is None:
        return (), (), 0
    plan = grant.plan
    counters = plan.counters
    delta = grant.meter.tokens() - grant.reserved if grant.meter is not None and counters else 0
    return plan.leases, counters, delta


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
        self._plans: dict[tuple[str | None, str | None], _Plan] = {}
        self.memory = state if isinstance(state, MemoryState) else None
        """The state store when it is the in-process one, whose calls need no await."""

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

    def _plan(self, principal: Principal | None, model: str | None) -> _Plan:
        """The checks of `principal`'s requests for `model`, from the cache while the key's record is the same."""
        record = principal.record if principal is not None else None
        cache_key = (record.id if record is not None else None, model if self._models else None)
        plan = self._plans.get(cache_key)
        if plan is not None and plan.record is record:
            return plan
        checks: list[Check] = []
        scope_of: list[str] = []
        for scope in self._scopes(principal, model):
            limits = scope.limits
            if limits.rpm:
                checks.append(Check(f"{scope.key}:rpm", "rate", limits.rpm, unit="rpm"))
                scope_of.append(scope.name)
            if limits.tpm:
                checks.append(Check(f"{scope.key}:tpm", "rate", limits.tpm, unit="tpm"))
                scope_of.append(scope.name)
            if limits.max_parallel:
                checks.append(Check(f"{scope.key}:parallel", "parallel", limits.max_parallel, unit="max_parallel"))
                scope_of.append(scope.name)
        plan = _Plan(
            record,
            tuple(checks),
            tuple(scope_of),
            tpm=tuple(i for i, c in enumerate(checks) if c.unit == "tpm"),
            requests=tuple(i for i, c in enumerate(checks) if c.unit == "rpm"),
            leases=tuple(c.key for c in checks if c.kind == "parallel"),
            counters=tuple(c.key for c in checks if c.unit == "tpm"),
            budgeted=self.budgets is not None and self.budgets.applies(principal),
            limit_text=tuple(str(c.limit) for c in checks),
            header_units=_header_units(checks),
        )
        if len(self._plans) >= _MAX_PLANS:
            self._plans.clear()  # keys replaced or models named at random: start again rather than grow
        self._plans[cache_key] = plan
        return plan

    async def admit(self, principal: Principal | None, model: str | None, body: bytes, lease_id: str) -> Grant | None:
        """Take the request's share of every limit and budget that applies, or raise 429 (503 with the state
        store down and `fail_closed`). None when nothing applies."""
        if not self._models and (principal is None or _unlimited(principal, self._teams)):
            return None  # the common case of a key with no limits of its own or its team's: nothing to take
        plan = self._plan(principal, model)
        if plan.idle:
            return None
        reserve = len(body) // 4 or 1
        now = time.time()
        verdict: Verdict | None = None
        if plan.checks:
            checks = plan.checks_for(reserve)
            if self.memory is not None:
                verdict = self.memory.acquire_now(checks, lease_id, now)  # no await: nothing to wait for
                if not verdict.allowed:
                    raise self._refusal(plan, checks, verdict)
            else:
                verdict = await self._check(plan, checks, lease_id, now)
        meter = UsageMeter(len(body)) if plan.budgeted or plan.tpm else None
        grant = Grant(self, lease_id, plan, verdict, now, reserve, meter)
        if plan.budgeted:
            assert self.budgets is not None
            try:
                grant.hold = await self.budgets.reserve(principal, model, body, lease_id)
            except BaseException:
                grant.settle()  # give back what the limits took
                raise
        return grant

    async def _check(self, plan: _Plan, checks: tuple[Check, ...], lease_id: str, now: float) -> Verdict | None:
        try:
            verdict = await self.state.acquire(checks, lease_id, now)
        except StateUnavailable as exc:
            self._unavailable(exc)
            return None
        self._recovered()
        if not verdict.allowed:
            raise self._refusal(plan, checks, verdict)
        return verdict

    def _refusal(self, plan: _Plan, checks: tuple[Check, ...], verdict: Verdict) -> _Rejected:
        failed = verdict.failed or 0
        kind, scope = checks[failed].unit, plan.scope_of[failed]
        self._on_limited(scope, kind)
        what = {"rpm": "requests per minute", "tpm": "tokens per minute", "max_parallel": "parallel requests"}
        return _Rejected(
            f"rate limit reached: the {scope}'s {what.get(kind, kind)} limit of {checks[failed].limit}; retry "
            "after the time in retry-after",
            retry_after=max(1.0, math.ceil(verdict.retry_after)),
        )

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
            usage = grant.meter.usage() if grant.meter is not None else None
            cost = self.budgets.settled_cost(grant.hold, provider, model, usage)
            try:
                await self.budgets.settle(grant.hold, cost)
            except Exception as exc:  # noqa: BLE001 - the ledger is a database: any failure is logged, the hold expires
                _log.warning("could not settle a request's budget hold (it expires): %s", exc)

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.state.aclose()
