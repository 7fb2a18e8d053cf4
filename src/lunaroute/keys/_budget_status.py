"""Where each budget stands: spend and holds in the current period, for keys and teams (the read side)."""

from __future__ import annotations

import time
from collections.abc import Mapping

import msgspec

from lunaroute.config import TeamConfig
from lunaroute.keys._ledger import period_key
from lunaroute.keys._store import KeyStore

__all__ = ["BudgetStatus", "budget_statuses"]


class BudgetStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One budget in its current period (`period_key`, e.g. `month:2026-12`)."""

    scope: str
    """`key` or `team`."""
    id: str
    name: str
    team: str | None
    budget_usd: float
    period: str
    period_key: str
    spent_usd: float
    reserved_usd: float


async def budget_statuses(
    store: KeyStore, teams: Mapping[str, TeamConfig], now: float | None = None
) -> list[BudgetStatus]:
    """Every key with a budget (revoked ones left out) and every team with one, fullest first."""
    now = time.time() if now is None else now
    out = []
    for record in await store.list_keys():
        if record.budget_usd is None or record.budget_period is None or record.revoked_at is not None:
            continue
        key = period_key(record.budget_period, now)
        spent, held = await store.spend(f"key:{record.id}", key, now)
        out.append(
            BudgetStatus(
                scope="key",
                id=record.id,
                name=record.name,
                team=record.team,
                budget_usd=record.budget_usd,
                period=record.budget_period,
                period_key=key,
                spent_usd=spent,
                reserved_usd=held,
            )
        )
    for name, team in teams.items():
        if team.budget_usd is None:
            continue
        key = period_key(team.budget_period, now)
        spent, held = await store.spend(f"team:{name}", key, now)
        out.append(
            BudgetStatus(
                scope="team",
                id=name,
                name=name,
                team=name,
                budget_usd=team.budget_usd,
                period=team.budget_period,
                period_key=key,
                spent_usd=spent,
                reserved_usd=held,
            )
        )
    out.sort(key=lambda s: -(s.spent_usd / s.budget_usd if s.budget_usd else 1.0))
    return out
