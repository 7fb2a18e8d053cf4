"""Pure helpers shared by the SQL session stores: filter → WHERE clause, time bounds, row → struct.

Only literals of this module are ever spliced into SQL; every value is a bound parameter (`?`). The
PostgreSQL store writes its own WHERE clause (`_pg_sql`, `$n` parameters) and shares the row decoding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from lunaroute.recording.query._models import (
    PriceFn,
    SessionFilter,
    SessionSummary,
    TokenCounts,
)
from lunaroute.recording.query._store import MAX_PAGE

__all__ = [
    "OUTCOME_SUMS",
    "SUMMARY_COLUMNS",
    "TOKEN_COLUMNS",
    "TOKEN_SUMS",
    "clamp_page",
    "created_bound",
    "like_pattern",
    "parse_ts",
    "price_sum",
    "session_where",
    "started_bound",
    "summary_from_row",
    "tokens_at",
]

TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "thinking_tokens",
    "reasoning_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
)

TOKEN_SUMS = ", ".join(f"COALESCE(SUM(ss.{c}), 0)" for c in TOKEN_COLUMNS)
"""Eight sums over `session_stats ss` rows, in `TOKEN_COLUMNS` order."""

_TOTAL_EXPR = " + ".join(f"COALESCE(ss.{c}, 0)" for c in TOKEN_COLUMNS)
SESSION_TOTAL = (
    f"COALESCE((SELECT SUM({_TOTAL_EXPR}) FROM session_stats ss WHERE ss.session_id = s.session_id), s.total_tokens)"
)
"""A session's total tokens: the sum over its requests, or its own row's total when it has none."""

SUMMARY_COLUMNS = (
    "s.session_id, s.started_at, s.completed_at, s.provider, s.listener, s.model_requested, s.model_used, "
    "s.success, s.error_message, s.finish_reason, s.total_duration_ms, s.user_agent, s.is_streaming, "
    + ", ".join(f"s.{c}" for c in TOKEN_COLUMNS)
)
"""The `sessions s` columns `summary_from_row` reads (21 of them), in order."""


OUTCOME_SUMS = (
    "COALESCE(SUM(CASE WHEN ss.success = 0 THEN 1 ELSE 0 END), 0), "
    "COALESCE(SUM(CASE WHEN ss.attempts IS NOT NULL THEN 1 ELSE 0 END), 0), "
    "MAX(CASE WHEN ss.attempts IS NOT NULL THEN ss.provider END)"
)
"""Over `session_stats ss` rows: how many failed, how many were answered after an attempt was given up, and
(one of) the providers that answered those."""


def clamp_page(offset: int, limit: int) -> tuple[int, int]:
    """`offset` at least 0, `limit` within `1..MAX_PAGE`."""
    return max(0, offset), min(max(1, limit), MAX_PAGE)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def started_bound(value: dt.datetime) -> str:
    """A bound comparable with `sessions.started_at` (RFC 3339 text as the writers store it)."""
    return _utc(value).isoformat()


def created_bound(value: dt.datetime) -> str:
    """A bound comparable with `created_at` columns (SQLite `CURRENT_TIMESTAMP` text, UTC)."""
    return _utc(value).strftime("%Y-%m-%d %H:%M:%S")


def parse_ts(value: object) -> dt.datetime | None:
    """A stored timestamp (text, or a datetime from PostgreSQL) as aware UTC; `None` when it does not parse."""
    if isinstance(value, dt.datetime):
        return _utc(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return _utc(dt.datetime.fromisoformat(value))
    except ValueError:
        return None


def like_pattern(text: str) -> str:
    """A `LIKE … ESCAPE '\\'` pattern matching `text` anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def session_where(flt: SessionFilter) -> tuple[str, list[object]]:
    """The WHERE clause (over `sessions s`, always non-empty) and its parameters for `flt`."""
    clauses: list[str] = ["1 = 1"]
    params: list[object] = []
    if flt.since is not None:
        clauses.append("s.started_at >= ?")
        params.append(started_bound(flt.since))
    if flt.until is not None:
        clauses.append("s.started_at < ?")
        params.append(started_bound(flt.until))
    if flt.model:
        clauses.append(
            "(s.model_used = ? OR s.model_requested = ? OR EXISTS "
            "(SELECT 1 FROM session_stats ss WHERE ss.session_id = s.session_id AND ss.model_name = ?))"
        )
        params += [flt.model, flt.model, flt.model]
    if flt.provider:
        clauses.append("s.provider = ?")
        params.append(flt.provider)
    if flt.key:
        clauses.append("(s.key_id = ? OR s.key_name = ?)")
        params += [flt.key, flt.key]
    if flt.team:
        clauses.append("s.team = ?")
        params.append(flt.team)
    if flt.user_agent:
        if flt.user_agent.endswith("*"):
            clauses.append("s.user_agent LIKE ? ESCAPE '\\'")
            params.append(like_pattern(flt.user_agent[:-1])[1:])
        else:
            clauses.append("s.user_agent = ?")
            params.append(flt.user_agent)
    if flt.success is not None:
        clauses.append("s.success = ?")
        params.append(flt.success)
    if flt.min_tokens is not None:
        clauses.append(f"{SESSION_TOTAL} >= ?")
        params.append(flt.min_tokens)
    if flt.search:
        pattern = like_pattern(flt.search)
        clauses.append("(s.request_text LIKE ? ESCAPE '\\' OR s.response_text LIKE ? ESCAPE '\\')")
        params += [pattern, pattern]
    if flt.tool:
        clauses.append("s.session_id IN (SELECT t.session_id FROM tool_stats t WHERE t.tool_name = ?)")
        params.append(flt.tool)
    return " AND ".join(clauses), params


def tokens_at(row: Sequence[object], start: int) -> TokenCounts:
    """The eight token columns of `row` from index `start`, in `TOKEN_COLUMNS` order (NULL → 0)."""
    values = [int(v) if isinstance(v, int | float) else 0 for v in row[start : start + 8]]
    return TokenCounts(
        input=values[0],
        output=values[1],
        thinking=values[2],
        reasoning=values[3],
        cache_read=values[4],
        cache_creation=values[5],
        audio_input=values[6],
        audio_output=values[7],
    )


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _bool(value: object) -> bool | None:
    return None if value is None else bool(value)


def summary_from_row(row: Sequence[object], cost: float | None = None) -> SessionSummary:
    """A summary from `SUMMARY_COLUMNS` followed by the request count, the eight token sums and, when present,
    the counts of failed requests and of requests answered after a fallback or retry (`OUTCOME_SUMS`).

    A session without requests (`count == 0`) reports its own row's tokens.
    """
    count = _int(row[21]) or 0
    tokens = tokens_at(row, 22) if count else tokens_at(row, 13)
    failed, fallbacks, answered = (
        (_int(row[30]) or 0, _int(row[31]) or 0, _str(row[32])) if len(row) > 32 else (0, 0, None)
    )
    return SessionSummary(
        session_id=str(row[0]),
        started_at=parse_ts(row[1]),
        completed_at=parse_ts(row[2]),
        provider=str(row[3] or ""),
        listener=str(row[4] or ""),
        model_requested=str(row[5] or ""),
        model_used=_str(row[6]),
        success=_bool(row[7]),
        error_message=_str(row[8]),
        finish_reason=_str(row[9]),
        total_duration_ms=_int(row[10]),
        user_agent=_str(row[11]),
        is_streaming=bool(row[12]),
        request_count=count,
        tokens=tokens,
        total_tokens=tokens.total,
        cost_usd=cost,
        failed_requests=failed,
        fallback_requests=fallbacks,
        fallback_provider=answered,
    )


def price_sum(price: PriceFn | None, rows: Sequence[tuple[str, str, TokenCounts]]) -> float | None:
    """The summed `price` of `(provider, model, tokens)` rows; `None` without a hook or with no known price."""
    if price is None:
        return None
    total: float | None = None
    for provider, model, tokens in rows:
        cost = price(provider, model, tokens)
        if cost is not None:
            total = (total or 0.0) + cost
    return total
