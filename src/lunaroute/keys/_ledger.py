"""The spend ledger's shared parts: budget periods and the rows a reservation holds — pure, no I/O.

Spend is kept per scope (`key:<id>`, `team:<name>`) and period (`day:2026-12-07`, `week:2026-W49`,
`month:2026-12`, `total`; calendar periods in UTC). A request reserves its worst-case cost as *holds* (one row
per scope) before it is sent; when it ends its holds are deleted and its real cost is added to the spend, in one
transaction. A hold of a process that died expires (`HOLD_S`), so it stops counting.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lunaroute.keys._record import BudgetPeriod

__all__ = ["HOLD_S", "BudgetLine", "period_key"]

HOLD_S = 3600.0
"""A reservation that is never settled (its gateway process died) stops counting after this."""


def period_key(period: BudgetPeriod, at: float) -> str:
    """The ledger's name for the period of `period` that contains the instant `at` (UTC)."""
    if period == "total":
        return "total"
    day = dt.datetime.fromtimestamp(at, dt.UTC).date()
    if period == "day":
        return f"day:{day.isoformat()}"
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"week:{year}-W{week:02d}"
    return f"month:{day.year}-{day.month:02d}"


@dataclass(frozen=True, slots=True)
class BudgetLine:
    """One budget a request must fit: `scope`'s spend in `period` plus holds plus `amount` ≤ `budget_usd`."""

    scope: str
    period: str
    budget_usd: float
    amount_usd: float
