"""Blocking SQLite aggregate queries: overview, tokens per day, tools, models, clients, costs, spending, hours.

Request-level figures are bucketed by `session_stats.created_at` (when the request's stats were written,
UTC), session-level ones by `sessions.started_at`. The sums are read through `_rollup` (the rollup tables
when the database has them, else the raw rows; the figures are the same); pricing, which needs the hook,
runs over the per-(provider, model) sums in Python, in model order.
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3

from lunaroute.recording.query import _rollup
from lunaroute.recording.query._models import (
    ActivityBucket,
    ClientUsage,
    CostStats,
    HourOfDay,
    ModelLatency,
    ModelSpending,
    ModelUsage,
    OverviewStats,
    PriceFn,
    SpendingHour,
    SpendingStats,
    StatusCount,
    TokenCounts,
    TokensPerDay,
    ToolUsage,
)
from lunaroute.recording.query._rollup import RequestSums, since_clause
from lunaroute.recording.query._sql import TOKEN_SUMS, created_bound, price_sum, tokens_at

__all__ = [
    "activity",
    "client_usage",
    "cost_stats",
    "errors_by_status",
    "hours_of_day",
    "latency_by_model",
    "model_names",
    "model_usage",
    "overview",
    "spending",
    "tokens_per_day",
    "tool_usage",
    "user_agents",
]


def _providers(conn: sqlite3.Connection, models: set[str]) -> dict[str, str]:
    """The provider of each model: that of the model's latest session (one indexed lookup per model).

    Looking it up per model instead of joining every request to its session keeps the aggregates on one table (a
    model served by two providers is priced as its latest one's): the provider recorded on the model's latest
    requests, else that of the latest session that used, or else asked for, the model.
    """
    out: dict[str, str] = {}
    per_request = "provider" in {r[1] for r in conn.execute("PRAGMA table_info(session_stats)")}
    for model in models:
        row = None
        if per_request:  # the provider that answered the model's latest requests (one of the last 50 that says)
            row = conn.execute(
                "SELECT provider FROM (SELECT provider FROM session_stats WHERE model_name = ? "
                "ORDER BY created_at DESC LIMIT 50) WHERE provider IS NOT NULL AND provider != '' LIMIT 1",
                (model,),
            ).fetchone()
        for column in ("model_used", "model_requested"):  # a request that failed has no model used
            if row is None:
                row = conn.execute(
                    f"SELECT provider FROM sessions WHERE {column} = ? AND provider != '' "
                    "ORDER BY created_at DESC LIMIT 1",
                    (model,),
                ).fetchone()
        out[model] = str(row[0]) if row else ""
    return out


def _sorted(sums: RequestSums) -> list[tuple[tuple[object, ...], int, TokenCounts]]:
    """The groups in key order (so float cost sums add up in one order whichever way they were read)."""
    return sorted(((k, n, t) for k, (n, t) in sums.items()), key=lambda g: [str(v) for v in g[0]])


def _add(a: TokenCounts, b: TokenCounts) -> TokenCounts:
    return a.plus(b)


def overview(conn: sqlite3.Connection, hours: int, now: dt.datetime, price: PriceFn | None) -> OverviewStats:
    rollup = _rollup.available(conn)
    since = now - dt.timedelta(hours=hours)
    per_model = _sorted(_rollup.request_sums(conn, since, now, ("model",), rollup=rollup))
    requests, tokens = 0, TokenCounts()
    for _, n, t in per_model:
        requests, tokens = requests + n, _add(tokens, t)
    providers = _providers(conn, {str(k[0]) for k, _, _ in per_model}) if price else {}
    cost = price_sum(price, [(providers.get(str(k[0]), ""), str(k[0]), t) for k, _, t in per_model])
    active = _rollup.active_sessions(conn, since, rollup=rollup)
    started, completed, failed, avg_duration = _rollup.started_stats(conn, since, rollup=rollup)
    avg_ttft, p95 = _rollup.ttft_stats(conn, since, rollup=rollup)
    return OverviewStats(
        hours=hours,
        requests=requests,
        sessions=started,
        active_sessions=active,
        completed_sessions=completed,
        failed_sessions=failed,
        success_rate=100.0 * (completed - failed) / completed if completed else 100.0,
        tokens=tokens,
        total_tokens=tokens.total,
        avg_duration_ms=avg_duration,
        avg_ttft_ms=avg_ttft,
        p95_ttft_ms=p95,
        total_cost_usd=cost,
    )


def tokens_per_day(conn: sqlite3.Connection, days: int, now: dt.datetime) -> tuple[TokensPerDay, ...]:
    first = dt.datetime.combine(now.date() - dt.timedelta(days=days - 1), dt.time(), dt.UTC)
    sums = _rollup.request_sums(conn, first, now, ("day",), rollup=_rollup.available(conn))
    return tuple(
        TokensPerDay(date=dt.date.fromisoformat(str(k[0])), requests=n, tokens=t, total_tokens=t.total)
        for k, n, t in _sorted(sums)
    )


def tool_usage(conn: sqlite3.Connection, limit: int) -> tuple[ToolUsage, ...]:
    if _rollup.available(conn):
        sql = (
            "SELECT tool_name, CASE WHEN calls_n > 0 THEN calls END, CASE WHEN errors_n > 0 THEN errors END, "
            "time_sum, time_n FROM rollup_tools ORDER BY 2 DESC, tool_name LIMIT ?"
        )
    else:
        sql = (
            "SELECT tool_name, SUM(call_count), SUM(error_count), SUM(avg_execution_time_ms), "
            "COUNT(avg_execution_time_ms) FROM tool_stats GROUP BY tool_name ORDER BY 2 DESC, tool_name LIMIT ?"
        )
    out = []
    for name, calls, errors, time_sum, time_n in conn.execute(sql, (limit,)).fetchall():
        calls, errors = int(calls or 0), int(errors or 0)
        ok = max(0, calls - errors)
        out.append(
            ToolUsage(
                tool_name=name,
                call_count=calls,
                error_count=errors,
                success_count=ok,
                success_rate=100.0 * ok / calls if calls else 100.0,
                avg_time_ms=time_sum / time_n if time_n else None,
            )
        )
    return tuple(out)


def model_usage(
    conn: sqlite3.Connection, hours: int, user_agent: str | None, now: dt.datetime, price: PriceFn | None
) -> tuple[ModelUsage, ...]:
    since = now - dt.timedelta(hours=hours)
    rollup = _rollup.available(conn)
    rows = _sorted(_rollup.request_sums(conn, since, now, ("model",), user_agent=user_agent, rollup=rollup))
    providers = _providers(conn, {str(k[0]) for k, _, _ in rows}) if price else {}
    total = sum(n for _, n, _ in rows) or 1
    out = []
    for k, n, tokens in rows:
        model = str(k[0] or "")
        out.append(
            ModelUsage(
                model_name=model or "unknown",
                request_count=n,
                percentage=100.0 * n / total,
                tokens=tokens,
                total_tokens=tokens.total,
                cost_usd=price_sum(price, [(providers.get(model, ""), model, tokens)]),
            )
        )
    out.sort(key=lambda m: (-m.request_count, m.model_name))
    return tuple(out)


def client_usage(
    conn: sqlite3.Connection, hours: int, limit: int, now: dt.datetime, price: PriceFn | None
) -> tuple[ClientUsage, ...]:
    """Per session user agent (none left out): requests, tokens and cost in the window, busiest first."""
    since = now - dt.timedelta(hours=hours)
    rows = _sorted(_rollup.request_sums(conn, since, now, ("user_agent", "model"), rollup=_rollup.available(conn)))
    providers = _providers(conn, {str(k[1]) for k, _, _ in rows}) if price else {}
    by_agent: dict[str, tuple[int, TokenCounts, list[tuple[str, str, TokenCounts]]]] = {}
    for (agent, model), n, tokens in rows:
        if not agent:
            continue
        count, total, items = by_agent.get(str(agent), (0, TokenCounts(), []))
        items.append((providers.get(str(model), ""), str(model), tokens))
        by_agent[str(agent)] = (count + n, _add(total, tokens), items)
    out = [
        ClientUsage(
            user_agent=agent,
            request_count=n,
            tokens=tokens,
            total_tokens=tokens.total,
            cost_usd=price_sum(price, items),
        )
        for agent, (n, tokens, items) in by_agent.items()
    ]
    out.sort(key=lambda c: (-c.request_count, c.user_agent))
    return tuple(out[:limit])


def cost_stats(conn: sqlite3.Connection, now: dt.datetime, price: PriceFn | None) -> CostStats:
    if price is None:
        return CostStats(today=None, this_week=None, this_month=None, total=None, projection_monthly=None)
    rollup = _rollup.available(conn)
    today = now.date()
    month_start = dt.datetime.combine(today.replace(day=1), dt.time(), dt.UTC)
    window_start = min(month_start, dt.datetime.combine(today - dt.timedelta(days=29), dt.time(), dt.UTC))
    daily = _sorted(_rollup.request_sums(conn, window_start, now, ("day", "model"), rollup=rollup))
    totals = _sorted(_rollup.request_sums(conn, None, now, ("model",), rollup=rollup))
    providers = _providers(conn, {str(k[-1]) for k, _, _ in (*daily, *totals)})
    week_start = today - dt.timedelta(days=today.weekday())
    last30 = today - dt.timedelta(days=29)

    def priced(rows: list[tuple[tuple[object, ...], int, TokenCounts]]) -> float | None:
        return price_sum(price, [(providers[str(k[-1])], str(k[-1]), t) for k, _, t in rows])

    def period(first: dt.date) -> float | None:
        return priced([r for r in daily if dt.date.fromisoformat(str(r[0][0])) >= first])

    recent = period(last30)
    return CostStats(
        today=period(today),
        this_week=period(week_start),
        this_month=period(today.replace(day=1)),
        total=priced(totals),
        projection_monthly=None if recent is None else recent / 30.0 * 30.4375,
    )


def spending(conn: sqlite3.Connection, hours: int, now: dt.datetime, price: PriceFn | None) -> SpendingStats:
    rollup = _rollup.available(conn)
    start = now - dt.timedelta(hours=hours)
    hourly = _sorted(_rollup.request_sums(conn, start, now, ("hour", "model"), rollup=rollup))
    per_model: dict[str, tuple[int, TokenCounts]] = {}
    for (_, model), n, tokens in hourly:
        count, sofar = per_model.get(str(model), (0, TokenCounts()))
        per_model[str(model)] = (count + n, _add(sofar, tokens))
    providers = _providers(conn, set(per_model))
    hours_map: dict[str, tuple[int, int, list[tuple[str, str, TokenCounts]]]] = {}
    for (key, model), n, tokens in hourly:
        reqs, total, items = hours_map.get(str(key), (0, 0, []))
        items.append((providers[str(model)], str(model), tokens))
        hours_map[str(key)] = (reqs + n, total + tokens.total, items)
    by_hour = tuple(
        SpendingHour(
            hour=dt.datetime.fromisoformat(f"{key}:00:00").replace(tzinfo=dt.UTC),
            requests=reqs,
            total_tokens=total,
            cost_usd=price_sum(price, items),
        )
        for key, (reqs, total, items) in hours_map.items()
    )
    sessions_of = _rollup.sessions_per_model(conn, start, now, list(per_model), rollup=rollup)
    by_model = []
    priced: list[tuple[str, str, TokenCounts]] = []
    for model, (n, tokens) in sorted(per_model.items()):
        priced.append((providers[model], model, tokens))
        by_model.append(
            ModelSpending(
                model_name=model,
                provider=providers[model],
                request_count=n,
                session_count=sessions_of.get(model, 0),
                total_tokens=tokens.total,
                cost_usd=price_sum(price, [priced[-1]]),
            )
        )
    by_model.sort(key=lambda m: (-(m.cost_usd or 0.0), -m.total_tokens, m.model_name))
    total_cost = price_sum(price, priced)
    sessions = _rollup.active_sessions(conn, start, rollup=rollup)
    return SpendingStats(
        hours=hours,
        total_cost_usd=total_cost,
        avg_cost_per_session=None if total_cost is None or not sessions else total_cost / sessions,
        by_model=tuple(by_model),
        by_hour=by_hour,
    )


def activity(
    conn: sqlite3.Connection, hours: int, minutes: int, now: dt.datetime, price: PriceFn | None
) -> tuple[ActivityBucket, ...]:
    """Requests of the last `hours` in `minutes`-long buckets (a divisor of 60), read from `session_stats` itself:
    the rollups are hourly, and a short window is a small range of its `created_at` index."""
    start = now - dt.timedelta(hours=hours)
    # created_at is `YYYY-MM-DD HH:MM:SS`: the bucket is the hour's prefix and the minute rounded down.
    key = "substr(ss.created_at, 1, 14) || printf('%02d', (CAST(substr(ss.created_at, 15, 2) AS INTEGER) / ?) * ?)"
    rows = conn.execute(
        f"SELECT {key}, ss.model_name, COUNT(*), {TOKEN_SUMS} FROM session_stats ss "
        f"WHERE {since_clause('ss.created_at', start, now)} GROUP BY 1, 2 ORDER BY 1",
        (minutes, minutes, created_bound(start)),
    ).fetchall()
    providers = _providers(conn, {str(r[1]) for r in rows})
    buckets: dict[str, tuple[int, int, list[tuple[str, str, TokenCounts]]]] = {}
    for row in rows:
        tokens = tokens_at(row, 3)
        count, total, items = buckets.get(str(row[0]), (0, 0, []))
        items.append((providers[str(row[1])], str(row[1]), tokens))
        buckets[str(row[0])] = (count + int(row[2]), total + tokens.total, items)
    return tuple(
        ActivityBucket(
            start=dt.datetime.fromisoformat(f"{key}:00").replace(tzinfo=dt.UTC),
            minutes=minutes,
            requests=count,
            total_tokens=total,
            cost_usd=price_sum(price, items),
        )
        for key, (count, total, items) in buckets.items()
    )


def _has(conn: sqlite3.Connection, column: str) -> bool:
    return column in {r[1] for r in conn.execute("PRAGMA table_info(session_stats)")}


def _percentile(ordered: list[int], q: float) -> int:
    """The nearest-rank percentile `q` (0..1) of the sorted, non-empty `ordered`."""
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def latency_by_model(conn: sqlite3.Connection, hours: int, now: dt.datetime) -> tuple[ModelLatency, ...]:
    if not _has(conn, "duration_ms"):
        return ()
    start = now - dt.timedelta(hours=hours)
    durations: dict[str, list[int]] = {}
    for model, ms in conn.execute(
        f"SELECT model_name, duration_ms FROM session_stats WHERE {since_clause('created_at', start, now)} "
        "AND duration_ms IS NOT NULL AND model_name != '' ORDER BY model_name, duration_ms",
        (created_bound(start),),
    ):
        durations.setdefault(str(model), []).append(int(ms))
    out = [
        ModelLatency(model_name=m, requests=len(v), p50_ms=_percentile(v, 0.5), p95_ms=_percentile(v, 0.95))
        for m, v in durations.items()
    ]
    return tuple(sorted(out, key=lambda m: (-m.requests, m.model_name)))


def errors_by_status(conn: sqlite3.Connection, hours: int, now: dt.datetime) -> tuple[StatusCount, ...]:
    if not _has(conn, "status_code"):
        return ()
    start = now - dt.timedelta(hours=hours)
    rows = conn.execute(
        "SELECT status_code, COUNT(*) FROM session_stats "
        f"WHERE {since_clause('created_at', start, now)} AND success = 0 GROUP BY 1 ORDER BY 2 DESC, 1",
        (created_bound(start),),
    ).fetchall()
    return tuple(StatusCount(status=None if s is None else int(s), requests=int(n)) for s, n in rows)


def hours_of_day(conn: sqlite3.Connection, hours: int, now: dt.datetime) -> tuple[HourOfDay, ...]:
    rows = conn.execute(
        "SELECT CAST(substr(created_at, 12, 2) AS INTEGER), COUNT(*), COUNT(DISTINCT session_id) "
        f"FROM session_stats WHERE {since_clause('created_at', now - dt.timedelta(hours=hours), now)} GROUP BY 1 ORDER BY 1",
        (created_bound(now - dt.timedelta(hours=hours)),),
    ).fetchall()
    return tuple(HourOfDay(hour=int(h), request_count=int(n), session_count=int(s)) for h, n, s in rows)


def user_agents(conn: sqlite3.Connection) -> tuple[str, ...]:
    if _rollup.available(conn):
        rows = conn.execute(
            "SELECT user_agent FROM rollup_user_agents ORDER BY sessions DESC, user_agent LIMIT 500"
        ).fetchall()
        return tuple(r[0] for r in rows)
    rows = conn.execute(
        "SELECT user_agent FROM sessions WHERE user_agent IS NOT NULL AND user_agent != '' "
        "GROUP BY user_agent ORDER BY COUNT(*) DESC, user_agent LIMIT 500"
    ).fetchall()
    return tuple(r[0] for r in rows)


def model_names(conn: sqlite3.Connection) -> tuple[str, ...]:
    rows = conn.execute(  # each side DISTINCT first: then both are read by skipping along an index
        "SELECT model_used FROM (SELECT DISTINCT model_used FROM sessions "
        "WHERE model_used IS NOT NULL AND model_used != '') "
        "UNION SELECT model_name FROM (SELECT DISTINCT model_name FROM session_stats WHERE model_name != '') ORDER BY 1"
    ).fetchall()
    return tuple(r[0] for r in rows)
