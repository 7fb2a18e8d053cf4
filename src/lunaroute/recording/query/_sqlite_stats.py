"""Blocking SQLite aggregate queries: overview, tokens per day, tools, models, costs, spending, hours.

Request-level figures are bucketed by `session_stats.created_at` (when the request's stats were written,
UTC), session-level ones by `sessions.started_at`. Every aggregate is computed in SQL; only pricing, which
needs the hook, runs over the per-(provider, model) sums in Python.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from lunaroute.recording.query._models import (
    CostStats,
    HourOfDay,
    ModelSpending,
    ModelUsage,
    OverviewStats,
    PriceFn,
    SpendingHour,
    SpendingStats,
    TokenCounts,
    TokensPerDay,
    ToolUsage,
)
from lunaroute.recording.query._sql import TOKEN_SUMS, created_bound, price_sum, started_bound, tokens_at

__all__ = [
    "cost_stats",
    "hours_of_day",
    "model_names",
    "model_usage",
    "overview",
    "spending",
    "tokens_per_day",
    "tool_usage",
    "user_agents",
]


_INDEXED_WINDOW = dt.timedelta(hours=48)


def _since(column: str, since: dt.datetime, now: dt.datetime) -> str:
    """`column >= ?`, written so that wide windows are read by a plain table scan.

    `session_stats` has no index on `created_at`; the planner then skip-scans the (model, created_at) index,
    which is fast for a short window and, through a random table lookup per row, 2-3 times slower than a
    sequential scan for a wide one. A unary `+` keeps it off the index for windows over 48 hours.
    """
    return f"+{column} >= ?" if now - since > _INDEXED_WINDOW else f"{column} >= ?"


def _providers(conn: sqlite3.Connection, models: set[str]) -> dict[str, str]:
    """The provider of each model: that of the model's latest session (one indexed lookup per model).

    Request rows carry no provider; looking it up per model instead of joining every request to its session
    keeps the aggregates on one table (a model served by two providers is priced as its latest one's).
    """
    out: dict[str, str] = {}
    for model in models:
        row = conn.execute(
            "SELECT provider FROM sessions WHERE model_used = ? ORDER BY created_at DESC LIMIT 1", (model,)
        ).fetchone()
        out[model] = str(row[0]) if row else ""
    return out


def _priced_rows(
    conn: sqlite3.Connection, since: dt.datetime | None, now: dt.datetime, extra_group: str = ""
) -> list[tuple[str, str, str, TokenCounts]]:
    """Token sums per (`extra_group` value, provider, model) of the requests since `since` (all when None)."""
    key = extra_group or "''"
    where, params = (f"WHERE {_since('ss.created_at', since, now)}", (created_bound(since),)) if since else ("", ())
    rows = conn.execute(
        f"SELECT {key}, ss.model_name, {TOKEN_SUMS} FROM session_stats ss {where} GROUP BY 1, 2",
        params,
    ).fetchall()
    providers = _providers(conn, {str(r[1]) for r in rows})
    return [(str(r[0]), providers[str(r[1])], str(r[1]), tokens_at(r, 2)) for r in rows]


def overview(conn: sqlite3.Connection, hours: int, now: dt.datetime, price: PriceFn | None) -> OverviewStats:
    since = now - dt.timedelta(hours=hours)
    per_model = _priced_rows(conn, since, now) if price else []
    row = conn.execute(
        f"SELECT COUNT(*), {TOKEN_SUMS} FROM session_stats ss WHERE {_since('ss.created_at', since, now)}",
        (created_bound(since),),
    ).fetchone()
    tokens = tokens_at(row, 1)
    (active,) = conn.execute(  # covered by the (session_id, created_at) index
        "SELECT COUNT(DISTINCT session_id) FROM session_stats WHERE created_at >= ?", (created_bound(since),)
    ).fetchone()
    started, completed, failed, avg_duration = conn.execute(
        "SELECT COUNT(*), COUNT(completed_at), COALESCE(SUM(success = 0), 0), AVG(total_duration_ms) "
        "FROM sessions WHERE started_at >= ?",
        (started_bound(since),),
    ).fetchone()
    # `+` keeps the planner from walking the TTFT index for the grouping (a random-access scan of it all)
    ttft = conn.execute(
        "SELECT time_to_first_token_ms, COUNT(*) FROM stream_metrics WHERE +created_at >= ? "
        "GROUP BY +time_to_first_token_ms ORDER BY 1",
        (created_bound(since),),
    ).fetchall()
    streamed = sum(n for _, n in ttft)
    avg_ttft = sum(v * n for v, n in ttft) / streamed if streamed else None
    p95: int | None = None
    rank, seen = -(-streamed * 95 // 100), 0  # nearest-rank percentile
    for value, n in ttft:
        seen += n
        if seen >= rank:
            p95 = int(value)
            break
    cost = price_sum(price, [r[1:] for r in per_model])
    return OverviewStats(
        hours=hours,
        requests=int(row[0]),
        sessions=int(started),
        active_sessions=int(active),
        completed_sessions=int(completed),
        failed_sessions=int(failed),
        success_rate=100.0 * (completed - failed) / completed if completed else 100.0,
        tokens=tokens,
        total_tokens=tokens.total,
        avg_duration_ms=None if avg_duration is None else float(avg_duration),
        avg_ttft_ms=None if avg_ttft is None else float(avg_ttft),
        p95_ttft_ms=p95,
        total_cost_usd=cost,
    )


def tokens_per_day(conn: sqlite3.Connection, days: int, now: dt.datetime) -> tuple[TokensPerDay, ...]:
    first = dt.datetime.combine(now.date() - dt.timedelta(days=days - 1), dt.time(), dt.UTC)
    rows = conn.execute(
        f"SELECT substr(ss.created_at, 1, 10), COUNT(*), {TOKEN_SUMS} FROM session_stats ss "
        f"WHERE {_since('ss.created_at', first, now)} GROUP BY 1 ORDER BY 1",
        (created_bound(first),),
    ).fetchall()
    out = []
    for r in rows:
        tokens = tokens_at(r, 2)
        out.append(
            TokensPerDay(date=dt.date.fromisoformat(r[0]), requests=int(r[1]), tokens=tokens, total_tokens=tokens.total)
        )
    return tuple(out)


def tool_usage(conn: sqlite3.Connection, limit: int) -> tuple[ToolUsage, ...]:
    rows = conn.execute(
        "SELECT tool_name, SUM(call_count), SUM(error_count), AVG(avg_execution_time_ms) "
        "FROM tool_stats GROUP BY tool_name ORDER BY 2 DESC, tool_name LIMIT ?",
        (limit,),
    ).fetchall()
    out = []
    for name, calls, errors, avg_time in rows:
        calls, errors = int(calls or 0), int(errors or 0)
        ok = max(0, calls - errors)
        out.append(
            ToolUsage(
                tool_name=name,
                call_count=calls,
                error_count=errors,
                success_count=ok,
                success_rate=100.0 * ok / calls if calls else 100.0,
                avg_time_ms=None if avg_time is None else float(avg_time),
            )
        )
    return tuple(out)


def model_usage(
    conn: sqlite3.Connection, hours: int, user_agent: str | None, now: dt.datetime, price: PriceFn | None
) -> tuple[ModelUsage, ...]:
    since = now - dt.timedelta(hours=hours)
    params: list[object] = [created_bound(since)]
    join = ua = ""
    if user_agent:  # the session's user agent (request rows hold one only for passthrough)
        join, ua = "JOIN sessions s ON s.session_id = ss.session_id", "AND s.user_agent = ?"
        params.append(user_agent)
    rows = conn.execute(
        f"SELECT ss.model_name, COUNT(*), {TOKEN_SUMS} FROM session_stats ss {join} "
        f"WHERE {_since('ss.created_at', since, now)} {ua} GROUP BY 1",
        params,
    ).fetchall()
    providers = _providers(conn, {str(r[0]) for r in rows}) if price else {}
    total = sum(int(r[1]) for r in rows) or 1
    out = []
    for r in rows:
        model, tokens = str(r[0] or ""), tokens_at(r, 2)
        out.append(
            ModelUsage(
                model_name=model or "unknown",
                request_count=int(r[1]),
                percentage=100.0 * int(r[1]) / total,
                tokens=tokens,
                total_tokens=tokens.total,
                cost_usd=price_sum(price, [(providers.get(model, ""), model, tokens)]),
            )
        )
    out.sort(key=lambda m: (-m.request_count, m.model_name))
    return tuple(out)


def cost_stats(conn: sqlite3.Connection, now: dt.datetime, price: PriceFn | None) -> CostStats:
    if price is None:
        return CostStats(today=None, this_week=None, this_month=None, total=None, projection_monthly=None)
    today = now.date()
    month_start = dt.datetime.combine(today.replace(day=1), dt.time(), dt.UTC)
    window_start = min(month_start, dt.datetime.combine(today - dt.timedelta(days=29), dt.time(), dt.UTC))
    daily = _priced_rows(conn, window_start, now, "substr(ss.created_at, 1, 10)")
    week_start = today - dt.timedelta(days=today.weekday())
    last30 = today - dt.timedelta(days=29)

    def period(first: dt.date) -> float | None:
        return price_sum(price, [r[1:] for r in daily if dt.date.fromisoformat(r[0]) >= first])

    total = price_sum(price, [r[1:] for r in _priced_rows(conn, None, now)])
    recent = period(last30)
    return CostStats(
        today=period(today),
        this_week=period(week_start),
        this_month=period(today.replace(day=1)),
        total=total,
        projection_monthly=None if recent is None else recent / 30.0 * 30.4375,
    )


def spending(conn: sqlite3.Connection, hours: int, now: dt.datetime, price: PriceFn | None) -> SpendingStats:
    start = now - dt.timedelta(hours=hours)
    since, pred = created_bound(start), _since("ss.created_at", start, now)
    hourly = conn.execute(
        f"SELECT substr(ss.created_at, 1, 13), ss.model_name, COUNT(*), {TOKEN_SUMS} FROM session_stats ss "
        f"WHERE {pred} GROUP BY 1, 2 ORDER BY 1",
        (since,),
    ).fetchall()
    models = conn.execute(
        f"SELECT ss.model_name, COUNT(*), COUNT(DISTINCT ss.session_id), {TOKEN_SUMS} FROM session_stats ss "
        f"WHERE {pred} GROUP BY 1",
        (since,),
    ).fetchall()
    providers = _providers(conn, {str(r[0]) for r in models})
    hours_map: dict[str, tuple[int, int, list[tuple[str, str, TokenCounts]]]] = {}
    for r in hourly:
        tokens = tokens_at(r, 3)
        reqs, total, items = hours_map.get(r[0], (0, 0, []))
        items.append((providers.get(str(r[1]), ""), str(r[1]), tokens))
        hours_map[r[0]] = (reqs + int(r[2]), total + tokens.total, items)
    by_hour = tuple(
        SpendingHour(
            hour=dt.datetime.fromisoformat(f"{key}:00:00").replace(tzinfo=dt.UTC),
            requests=reqs,
            total_tokens=total,
            cost_usd=price_sum(price, items),
        )
        for key, (reqs, total, items) in hours_map.items()
    )
    by_model = []
    priced: list[tuple[str, str, TokenCounts]] = []
    for r in models:
        model, tokens = str(r[0]), tokens_at(r, 3)
        priced.append((providers[model], model, tokens))
        by_model.append(
            ModelSpending(
                model_name=model,
                provider=providers[model],
                request_count=int(r[1]),
                session_count=int(r[2]),
                total_tokens=tokens.total,
                cost_usd=price_sum(price, [priced[-1]]),
            )
        )
    by_model.sort(key=lambda m: (-(m.cost_usd or 0.0), -m.total_tokens, m.model_name))
    total_cost = price_sum(price, priced)
    (sessions,) = conn.execute(
        "SELECT COUNT(DISTINCT session_id) FROM session_stats WHERE created_at >= ?", (since,)
    ).fetchone()
    return SpendingStats(
        hours=hours,
        total_cost_usd=total_cost,
        avg_cost_per_session=None if total_cost is None or not sessions else total_cost / sessions,
        by_model=tuple(by_model),
        by_hour=by_hour,
    )


def hours_of_day(conn: sqlite3.Connection, hours: int, now: dt.datetime) -> tuple[HourOfDay, ...]:
    rows = conn.execute(
        "SELECT CAST(substr(created_at, 12, 2) AS INTEGER), COUNT(*), COUNT(DISTINCT session_id) "
        f"FROM session_stats WHERE {_since('created_at', now - dt.timedelta(hours=hours), now)} GROUP BY 1 ORDER BY 1",
        (created_bound(now - dt.timedelta(hours=hours)),),
    ).fetchall()
    return tuple(HourOfDay(hour=int(h), request_count=int(n), session_count=int(s)) for h, n, s in rows)


def user_agents(conn: sqlite3.Connection) -> tuple[str, ...]:
    rows = conn.execute(
        "SELECT user_agent FROM sessions WHERE user_agent IS NOT NULL AND user_agent != '' "
        "GROUP BY user_agent ORDER BY COUNT(*) DESC, user_agent LIMIT 500"
    ).fetchall()
    return tuple(r[0] for r in rows)


def model_names(conn: sqlite3.Connection) -> tuple[str, ...]:
    rows = conn.execute(
        "SELECT model_used FROM sessions WHERE model_used IS NOT NULL AND model_used != '' "
        "UNION SELECT model_name FROM session_stats WHERE model_name != '' ORDER BY 1"
    ).fetchall()
    return tuple(r[0] for r in rows)
