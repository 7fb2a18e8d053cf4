"""The budget policy: spend caps in US dollars per key and per team, reserved before a request and settled after.

At the start, the request's worst case — its input (a quarter of the body's bytes, as tokens) and its output
cap (`max_tokens`, `max_completion_tokens` or `max_output_tokens`; 4,096 tokens when it sets none) at the
model's list price — is held against every budget that applies, atomically in the ledger (the key store's
database), so requests racing each other cannot overspend: the spend plus the holds never exceed a budget by more
than what a settled request cost beyond its hold. At the end the hold is replaced by the real cost from the usage
the answer reported (or, with none reported, from the bytes relayed); an upstream error costs nothing. A request
that does not fit gets 429 naming the budget, or, with `budget_reroute_model`, is served by that model.
A model the shipped price table has no price for is priced with `budgets.unpriced_model_price` when that is
set; else a request for it under a budget is refused with 403 naming the model (its spend could not be
counted). A settlement that finds no price (the provider's table differs) costs the request's hold.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import msgspec

from lunaroute.config import PriceConfig, TeamConfig
from lunaroute.errors import PermissionDenied, RateLimited
from lunaroute.keys import BudgetLine, BudgetPeriod, KeyStore, period_key
from lunaroute.model import Usage
from lunaroute.policies._auth import Principal
from lunaroute.recording.pricing import estimate_cost

__all__ = ["BudgetHold", "Budgets"]

_log = logging.getLogger("lunaroute.budgets")
_MAX_WARNED_MODELS = 1024
"""Unpriced models logged once each, up to this many (model names come from clients)."""
DEFAULT_MAX_OUTPUT = 4096
"""Output tokens reserved for a request that sets no output cap."""


class _Caps(msgspec.Struct):
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    max_output_tokens: int | None = None


_caps = msgspec.json.Decoder(_Caps)


def output_cap(body: bytes) -> int:
    """The output tokens a request may produce at most, from its body (`DEFAULT_MAX_OUTPUT` when unset)."""
    try:
        caps = _caps.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return DEFAULT_MAX_OUTPUT
    cap = caps.max_tokens or caps.max_completion_tokens or caps.max_output_tokens
    return cap if cap and cap > 0 else DEFAULT_MAX_OUTPUT


@dataclass(frozen=True, slots=True)
class _Budget:
    scope: str
    label: str
    usd: float
    period: BudgetPeriod
    soft: float | None
    reroute: str | None


class BudgetExceeded(RateLimited):
    code = "budget_exceeded"


class UnpricedModel(PermissionDenied):
    code = "model_unpriced"


def price(provider: str, model: str | None, input_tokens: int, output_tokens: int) -> float | None:
    if not model:
        return None
    cost = estimate_cost(provider, model, Usage(input_tokens=input_tokens, output_tokens=output_tokens))
    return None if cost is None else cost.total_cost_usd


@dataclass(slots=True)
class BudgetHold:
    """A request's reservation: settled once with its real cost."""

    budgets: Budgets
    hold_id: str
    lines: tuple[BudgetLine, ...]
    at: float
    reroute_model: str | None
    remaining_usd: float | None
    """Budget left after this hold, set when a soft limit was passed (for `x-lunaroute-budget-remaining-usd`)."""
    team: str | None


class Budgets:
    """Spend caps over the ledger in `store`. Reported to metrics: `on_spend(team, usd)` at each settlement,
    `on_soft(scope_kind)` once per budget and period past its soft limit, `on_refused(scope_kind)` for each
    request a budget refuses, `on_utilisation(scope_kind, budget, ratio)` after each reservation (spent and held
    over the budget)."""

    def __init__(
        self,
        store: KeyStore,
        teams: Mapping[str, TeamConfig],
        *,
        on_spend: Callable[[str, float], None] = lambda team, usd: None,
        on_soft: Callable[[str], None] = lambda kind: None,
        on_refused: Callable[[str], None] = lambda kind: None,
        on_utilisation: Callable[[str, str, float], None] = lambda kind, budget, ratio: None,
        unpriced_model_price: PriceConfig | None = None,
    ) -> None:
        self._store = store
        self._fallback = unpriced_model_price
        self._teams = teams
        self._on_spend = on_spend
        self._on_soft = on_soft
        self._on_refused = on_refused
        self._on_utilisation = on_utilisation
        self._warned: set[tuple[str, str]] = set()
        self._unpriced: set[str] = set()

    def _applicable(self, principal: Principal) -> list[_Budget]:
        out = []
        record = principal.record
        if record.budget_usd is not None and record.budget_period is not None:
            out.append(
                _Budget(
                    f"key:{record.id}",
                    f"key {record.name!r}",
                    record.budget_usd,
                    record.budget_period,
                    record.budget_soft_limit,
                    record.budget_reroute_model,
                )
            )
        team = self._teams.get(principal.team) if principal.team else None
        if team is not None and team.budget_usd is not None:
            out.append(
                _Budget(
                    f"team:{principal.team}",
                    f"team {principal.team!r}",
                    team.budget_usd,
                    team.budget_period,
                    team.budget_soft_limit,
                    team.budget_reroute_model,
                )
            )
        return out

    def applies(self, principal: Principal | None) -> bool:
        return principal is not None and bool(self._applicable(principal))

    def cost(self, provider: str, model: str | None, input_tokens: int, output_tokens: int) -> float | None:
        """What a request to `model` costs at list price, or at `unpriced_model_price` for a model with none;
        None when neither is known. A request without a model costs nothing."""
        if not model:
            return 0.0
        cost = price(provider, model, input_tokens, output_tokens)
        if cost is None and self._fallback is not None:
            fallback = self._fallback
            cost = (input_tokens * fallback.input_usd_per_mtok + output_tokens * fallback.output_usd_per_mtok) / 1e6
            if model not in self._unpriced and len(self._unpriced) < _MAX_WARNED_MODELS:
                self._unpriced.add(model)
                _log.warning("no price is known for model %r: budgets count it at unpriced_model_price", model)
        return cost

    def _worst_case(self, model: str | None, body: bytes) -> float:
        cost = self.cost("", model, max(1, len(body) // 4), output_cap(body))
        if cost is None:
            raise UnpricedModel(
                f"the model {model!r} has no known price, so its requests cannot be counted against this key's "
                "budget: use a priced model (or ask the operator to set budgets.unpriced_model_price)",
                param="model",
            )
        return cost

    async def reserve(
        self, principal: Principal | None, model: str | None, body: bytes, hold_id: str
    ) -> BudgetHold | None:
        """Hold the request's worst case against its budgets; raise 429 when it does not fit (unless a budget
        that does not fit names a reroute model and the request fits with that model)."""
        if principal is None:
            return None
        budgets = self._applicable(principal)
        if not budgets:
            return None
        now = time.time()
        amount = self._worst_case(model, body)
        lines = tuple(BudgetLine(b.scope, period_key(b.period, now), b.usd, amount) for b in budgets)
        failed, left = await self._store.reserve(hold_id, lines, now)
        reroute = None
        if failed is not None:
            reroute = budgets[failed].reroute
            if reroute is None or reroute == model:
                raise self._refusal(budgets, left, failed, amount)
            amount = self._worst_case(reroute, body)
            lines = tuple(BudgetLine(ln.scope, ln.period, ln.budget_usd, amount) for ln in lines)
            failed, left = await self._store.reserve(hold_id, lines, now)
            if failed is not None:
                raise self._refusal(budgets, left, failed, amount)
        self._report(budgets, left)
        remaining = self._soft_remaining(budgets, lines, left)
        return BudgetHold(self, hold_id, lines, now, reroute, remaining, principal.team)

    def _report(self, budgets: list[_Budget], left: list[float]) -> None:
        """Each budget's utilisation: what is spent and held (`left`: what the ledger says remains)."""
        for budget, remaining in zip(budgets, left, strict=True):
            kind, _, name = budget.scope.partition(":")
            ratio = (budget.usd - remaining) / budget.usd if budget.usd > 0 else 1.0
            self._on_utilisation(kind, name, max(0.0, ratio))

    def _refusal(self, budgets: list[_Budget], left: list[float], failed: int, amount: float) -> BudgetExceeded:
        self._report(budgets, left)
        budget = budgets[failed]
        self._on_refused(budget.scope.split(":", 1)[0])
        return self._refused(budget, left[failed], amount)

    @staticmethod
    def _refused(budget: _Budget, left: float, amount: float) -> BudgetExceeded:
        return BudgetExceeded(
            f"the {budget.label} budget of ${budget.usd:.2f} per {budget.period} is used up: "
            f"${max(0.0, left):.4f} left, this request may cost up to ${amount:.4f}",
            retry_after=None,
        )

    def _soft_remaining(self, budgets: list[_Budget], lines: tuple[BudgetLine, ...], left: list[float]) -> float | None:
        remaining: float | None = None
        for budget, line, after in zip(budgets, lines, left, strict=True):
            if budget.soft is None or budget.usd - after < budget.soft * budget.usd:
                continue
            remaining = after if remaining is None else min(remaining, after)
            if (budget.scope, line.period) not in self._warned:
                self._warned.add((budget.scope, line.period))
                self._on_soft(budget.scope.split(":", 1)[0])
                _log.warning("the %s budget passed %.0f %% in %s", budget.label, budget.soft * 100, line.period)
        return remaining

    def settled_cost(
        self, hold: BudgetHold, provider: str | None, model: str | None, usage: tuple[int, int] | None
    ) -> float:
        """What `hold`'s request costs in the end: nothing unless `provider` answered it; its hold when the
        answer's price cannot be found."""
        if provider is None or usage is None:
            return 0.0
        cost = self.cost(provider, model, *usage)
        return cost if cost is not None else max((line.amount_usd for line in hold.lines), default=0.0)

    async def settle(self, hold: BudgetHold, cost_usd: float) -> None:
        spends = [(line.scope, line.period, cost_usd) for line in hold.lines]
        await self._store.settle(hold.hold_id, spends, time.time())
        if cost_usd:
            self._on_spend(hold.team or "", cost_usd)
