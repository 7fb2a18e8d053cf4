"""Pure helpers of the PostgreSQL session store: the SQL fragments and the filter → WHERE clause, in `$n` form.

They mirror `_sql` so that both stores give the same figures for the same recorded sessions:
- `created_at` is compared at whole seconds (`created_floor`), as SQLite's `CURRENT_TIMESTAMP` text holds it;
- sums are cast to `bigint` (PostgreSQL's `SUM(bigint)` is `numeric`);
- text is ordered with the `C` collation (byte order, SQLite's `BINARY`) and NULLs sort first ascending;
- `LIKE` is `ILIKE` (SQLite's `LIKE` ignores case).
The session's connections run with `TimeZone = UTC`, so `to_char`/`extract` read UTC fields.
"""

from __future__ import annotations

import datetime as dt

from lunaroute.recording.query._models import SessionFilter
from lunaroute.recording.query._sql import TOKEN_COLUMNS, like_pattern

__all__ = [
    "OUTCOME_SUMS",
    "SESSION_TOTAL",
    "TOKEN_SUMS",
    "Params",
    "created_floor",
    "session_where",
    "utc",
]

Params = list[object]

TOKEN_SUMS = ", ".join(f"COALESCE(SUM(ss.{c}), 0)::bigint" for c in TOKEN_COLUMNS)
"""Eight sums over `session_stats ss` rows, in `TOKEN_COLUMNS` order."""

_TOTAL_EXPR = " + ".join(f"COALESCE(ss.{c}, 0)" for c in TOKEN_COLUMNS)
SESSION_TOTAL = (
    f"COALESCE((SELECT SUM({_TOTAL_EXPR}) FROM session_stats ss WHERE ss.session_id = s.session_id), s.total_tokens)"
)
"""A session's total tokens: the sum over its requests, or its own row's total when it has none."""

OUTCOME_SUMS = (
    "COUNT(*) FILTER (WHERE ss.success = false), "
    "COUNT(*) FILTER (WHERE ss.attempts IS NOT NULL), "
    'MAX(CASE WHEN ss.attempts IS NOT NULL THEN ss.provider END COLLATE "C")'
)
"""As `_sql.OUTCOME_SUMS`: failed requests, requests answered after an attempt was given up, one such provider."""


def utc(value: dt.datetime) -> dt.datetime:
    """`value` as an aware UTC datetime (naive values are taken as UTC)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def created_floor(value: dt.datetime) -> dt.datetime:
    """A bound for `created_at >= bound` that keeps the rows SQLite keeps: its `created_at` holds whole seconds."""
    return utc(value).replace(microsecond=0)


class _Builder:
    """Collects clauses and numbers their parameters `$1`, `$2`, … from `first`."""

    def __init__(self, first: int) -> None:
        self.clauses: list[str] = ["true"]
        self.params: Params = []
        self._next = first

    def mark(self, value: object) -> str:
        self.params.append(value)
        self._next += 1
        return f"${self._next - 1}"


def session_where(flt: SessionFilter, first: int = 1) -> tuple[str, Params]:
    """The WHERE clause over `sessions s` (never empty) for `flt`, its parameters numbered from `$first`."""
    b = _Builder(first)
    add = b.clauses.append
    if flt.since is not None:
        add(f"s.started_at >= {b.mark(utc(flt.since))}")
    if flt.until is not None:
        add(f"s.started_at < {b.mark(utc(flt.until))}")
    if flt.model:
        m = b.mark(flt.model)
        add(  # IN, not a correlated EXISTS: under the OR, PostgreSQL hashes the subquery once
            f"(s.model_used = {m} OR s.model_requested = {m} OR s.session_id IN "
            f"(SELECT ss.session_id FROM session_stats ss WHERE ss.model_name = {m}))"
        )
    if flt.provider:
        add(f"s.provider = {b.mark(flt.provider)}")
    if flt.key:
        k = b.mark(flt.key)
        add(f"(s.key_id = {k} OR s.key_name = {k})")
    if flt.team:
        add(f"s.team = {b.mark(flt.team)}")
    if flt.user_agent:
        if flt.user_agent.endswith("*"):
            add(f"s.user_agent ILIKE {b.mark(like_pattern(flt.user_agent[:-1])[1:])} ESCAPE '\\'")
        else:
            add(f"s.user_agent = {b.mark(flt.user_agent)}")
    if flt.success is not None:
        add(f"s.success = {b.mark(flt.success)}")
    if flt.min_tokens is not None:
        add(f"{SESSION_TOTAL} >= {b.mark(flt.min_tokens)}")
    if flt.search:
        p = b.mark(like_pattern(flt.search))
        add(f"(s.request_text ILIKE {p} ESCAPE '\\' OR s.response_text ILIKE {p} ESCAPE '\\')")
    if flt.tool:
        add(f"s.session_id IN (SELECT t.session_id FROM tool_stats t WHERE t.tool_name = {b.mark(flt.tool)})")
    return " AND ".join(b.clauses), b.params
