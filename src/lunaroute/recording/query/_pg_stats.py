"""PostgreSQL aggregate queries: overview, tokens per day, tools, models, clients, costs, spending, hours.

The twin of `_sqlite_stats`, function for function: request-level figures by `session_stats.created_at`,
session-level ones by `sessions.started_at`, the sums read through `_pg_window`, and pricing in Python over the
per-(provider, model) sums in model order, so the figures (costs included) equal the SQLite store's.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from lunaroute.recording.query import _pg_window as _window
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
from lunaroute.recording.query._pg_sql import TOKEN_SUMS, created_floor
from lunaroute.recording.query._rollup import RequestSums
from lunaroute.recording.query._sql import price_sum, tokens_at

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

_Group = tuple[tuple[object, ...], int, TokenCounts]


async def _providers(conn: Any, models: set[str]) -> dict[str, str]:
    """The provider of each model, found as `_sqlite_stats._providers` finds it: the provider recorded on the
    model's latest requests, else that of the latest session that used, or else asked for, the model."""
    out: dict[str, str] = {}
    for model in models:
        provider = await conn.fetchval(
            "SELECT provider FROM (SELECT provider FROM session_stats WHERE model_name = $1 "
            "ORDER BY created_at DESC LIMIT 50) r WHERE provider IS NOT NULL AND provider != '' LIMIT 1",
            model,
        )
        for column in ("model_used", "model_requested"):  # a request that failed has no model used
            if provider is None:
                provider = await conn.fetchval(
                    f"SELECT provider FROM sessions WHERE {column} = $1 AND provider != '' "
                    "ORDER BY created_at DESC LIMIT 1",
                    model,
                )
        out[model] = "" if provider is None else str(provider)
    return out


def _sorted(sums: RequestSums) -> list[_Group]:
    """The groups in key order (so float cost sums add up in the order the SQLite store adds them)."""
    return sorted(((k, n, t) for k, (n, t) in sums.items()), key=lambda g: [str(v) for v in g[0]])


async def overview(conn: Any, hours: int, now: dt.datetime, price: PriceFn | None) -> OverviewStats:
    rollup = await _window.has_rollups(conn)
    since = now - dt.timedelta(hours=hours)
    per_model = _sorted(await _window.request_sums(conn, since, ("model",), rollup=rollup))
    requests, tokens = 0, TokenCounts()
    for _, n, t in per_model:
        requests, tokens = requests + n, tokens.plus(t)
    providers = await _providers(conn, {str(k[0]) for k, _, _ in per_model}) if price else {}
    cost = price_sum(price, [(providers.get(str(k[0]), ""), str(k[0]), t) for k, _, t in per_model])
    active = await _window.active_sessions(conn, since, rollup=rollup)
    started, completed, failed, avg_duration = await _window.started_stats(conn, since, rollup=rollup)
    avg_ttft, p95 = await _window.ttft_stats(conn, since, rollup=rollup)
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


async def tokens_per_day(conn: Any, days: int, now: dt.datetime) -> tuple[TokensPerDay, ...]:
    first = dt.datetime.combine(now.date() - dt.timedelta(days=days - 1), dt.time(), dt.UTC)
    sums = await _window.request_sums(conn, first, ("day",), rollup=await _window.has_rollups(conn))
    return tuple(
        TokensPerDay(date=dt.date.fromisoformat(str(k[0])), requests=n, tokens=t, total_tokens=t.total)
        for k, n, t in _sorted(sums)
    )


async def tool_usage(conn: Any, limit: int) -> tuple[ToolUsage, ...]:
    rows = await conn.fetch(
        "SELECT tool_name, SUM(call_count)::bigint, SUM(error_count)::bigint, SUM(avg_execution_time_ms)::bigint, "
        "COUNT(avg_execution_time_ms) FROM tool_stats GROUP BY tool_name "
        'ORDER BY 2 DESC NULLS LAST, tool_name COLLATE "C" LIMIT $1',
        limit,
    )
    out = []
    for name, calls, errors, time_sum, time_n in rows:
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


async def model_usage(
    conn: Any, hours: int, user_agent: str | None, now: dt.datetime, price: PriceFn | None
) -> tuple[ModelUsage, ...]:
    since = now - dt.timedelta(hours=hours)
    rollup = await _window.has_rollups(conn)
    rows = _sorted(await _window.request_sums(conn, since, ("model",), user_agent=user_agent, rollup=rollup))
    providers = await _providers(conn, {str(k[0]) for k, _, _ in rows}) if price else {}
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


async def client_usage(
    conn: Any, hours: int, limit: int, now: dt.datetime, price: PriceFn | None
) -> tuple[ClientUsage, ...]:
    """Per session user agent (none left out): requests, tokens and cost in the window, busiest first."""
    since = now - dt.timedelta(hours=hours)
    rollup = await _window.has_rollups(conn)
    rows = _sorted(await _window.request_sums(conn, since, ("user_agent", "model"), rollup=rollup))
    providers = await _providers(conn, {str(k[1]) for k, _, _ in rows}) if price else {}
    by_agent: dict[str, tuple[int, TokenCounts, list[tuple[str, str, TokenCounts]]]] = {}
    for (agent, model), n, tokens in rows:
        if not agent:
            continue
        count, total, items = by_agent.get(str(agent), (0, TokenCounts(), []))
        items.append((providers.get(str(model), ""), str(model), tokens))
        by_agent[str(agent)] = (count + n, total.plus(tokens), items)
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


async def cost_stats(conn: Any, now: dt.datetime, price: PriceFn | None) -> CostStats:
    if price is None:
        return CostStats(today=None, this_week=None, this_month=None, total=None, projection_monthly=None)
    today = now.date()
    month_start = dt.datetime.combine(today.replace(day=1), dt.time(), dt.UTC)
    window_start = min(month_start, dt.datetime.combine(today - dt.timedelta(days=29), dt.time(), dt.UTC))
    rollup = await _window.has_rollups(conn)
    daily = _sorted(await _window.request_sums(conn, window_start, ("day", "model"), rollup=rollup))
    totals = _sorted(await _window.request_sums(conn, None, ("model",), rollup=rollup))
    providers = await _providers(conn, {str(k[-1]) for k, _, _ in (*daily, *totals)})
    week_start = today - dt.timedelta(days=today.weekday())
    last30 = today - dt.timedelta(days=29)

    def priced(rows: list[_Group]) -> float | None:
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


async def spending(conn: Any, hours: int, now: dt.datetime, price: PriceFn | None) -> SpendingStats:
    rollup = await _window.has_rollups(conn)
    start = now - dt.timedelta(hours=hours)
    hourly = _sorted(await _window.request_sums(conn, start, ("hour", "model"), rollup=rollup))
    per_model: dict[str, tuple[int, TokenCounts]] = {}
    for (_, model), n, tokens in hourly:
        count, sofar = per_model.get(str(model), (0, TokenCounts()))
        per_model[str(model)] = (count + n, sofar.plus(tokens))
    providers = await _providers(conn, set(per_model))
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
    sessions_of = await _window.sessions_per_model(conn, start, list(per_model), rollup=rollup)
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
    sessions = await _window.active_sessions(conn, start, rollup=rollup)
    return SpendingStats(
        hours=hours,
        total_cost_usd=total_cost,
        avg_cost_per_session=None if total_cost is None or not sessions else total_cost / sessions,
        by_model=tuple(by_model),
        by_hour=by_hour,
    )


async def activity(
    conn: Any, hours: int, minutes: int, now: dt.datetime, price: PriceFn | None
) -> tuple[ActivityBucket, ...]:
    """Requests of the last `hours` in `minutes`-long buckets (a divisor of 60), keyed `YYYY-MM-DD HH:MM`."""
    start = now - dt.timedelta(hours=hours)
    key = (
        "to_char(ss.created_at, 'YYYY-MM-DD HH24:') || "
        "lpad(((extract(minute FROM ss.created_at)::int / $1) * $1)::text, 2, '0')"
    )
    rows = await conn.fetch(
        f"SELECT {key}, ss.model_name, COUNT(*), {TOKEN_SUMS} FROM session_stats ss "
        "WHERE ss.created_at >= $2 GROUP BY 1, 2",
        minutes,
        created_floor(start),
    )
    providers = await _providers(conn, {str(r[1]) for r in rows})
    buckets: dict[str, tuple[int, int, list[tuple[str, str, TokenCounts]]]] = {}
    for row in sorted((tuple(r) for r in rows), key=lambda r: (str(r[0]), str(r[1]))):  # SQLite's group order
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


def _percentile(ordered: list[int], q: float) -> int:
    """The nearest-rank percentile `q` (0..1) of the sorted, non-empty `ordered`."""
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


async def latency_by_model(conn: Any, hours: int, now: dt.datetime) -> tuple[ModelLatency, ...]:
    start = now - dt.timedelta(hours=hours)
    durations: dict[str, list[int]] = {}
    for model, ms in await conn.fetch(
        "SELECT model_name, duration_ms FROM session_stats WHERE created_at >= $1 "
        "AND duration_ms IS NOT NULL AND model_name != '' ORDER BY model_name COLLATE \"C\", duration_ms",
        created_floor(start),
    ):
        durations.setdefault(str(model), []).append(int(ms))
    out = [
        ModelLatency(model_name=m, requests=len(v), p50_ms=_percentile(v, 0.5), p95_ms=_percentile(v, 0.95))
        for m, v in durations.items()
    ]
    return tuple(sorted(out, key=lambda m: (-m.requests, m.model_name)))


async def errors_by_status(conn: Any, hours: int, now: dt.datetime) -> tuple[StatusCount, ...]:
    rows = await conn.fetch(
        "SELECT status_code, COUNT(*) FROM session_stats WHERE created_at >= $1 AND success = false "
        "GROUP BY 1 ORDER BY 2 DESC, 1 NULLS FIRST",
        created_floor(now - dt.timedelta(hours=hours)),
    )
    return tuple(StatusCount(status=None if s is None else int(s), requests=int(n)) for s, n in rows)


async def hours_of_day(conn: Any, hours: int, now: dt.datetime) -> tuple[HourOfDay, ...]:
    rows = await conn.fetch(
        "SELECT extract(hour FROM created_at)::int, COUNT(*), COUNT(DISTINCT session_id) "
        "FROM session_stats WHERE created_at >= $1 GROUP BY 1 ORDER BY 1",
        created_floor(now - dt.timedelta(hours=hours)),
    )
    return tuple(HourOfDay(hour=int(h), request_count=int(n), session_count=int(s)) for h, n, s in rows)


async def user_agents(conn: Any) -> tuple[str, ...]:
    rows = await conn.fetch(
        "SELECT user_agent FROM sessions WHERE user_agent IS NOT NULL AND user_agent != '' "
        'GROUP BY user_agent ORDER BY COUNT(*) DESC, user_agent COLLATE "C" LIMIT 500'
    )
    return tuple(r[0] for r in rows)


async def model_names(conn: Any) -> tuple[str, ...]:
    if await _window.has_rollups(conn):  # the requests' models from the rollups: no scan of every request
        requests = (
            "SELECT model_name FROM (SELECT model_name, requests FROM rollup_requests UNION ALL "
            "SELECT model_name, requests FROM rollup_requests_delta) r GROUP BY 1 HAVING SUM(requests) > 0"
        )
    else:
        requests = "SELECT model_name FROM session_stats"
    rows = await conn.fetch(
        "SELECT m FROM (SELECT model_used FROM sessions WHERE model_used IS NOT NULL AND model_used != '' "
        f"UNION SELECT model_name FROM ({requests}) q WHERE model_name != '') u(m) ORDER BY m COLLATE \"C\""
    )
    return tuple(r[0] for r in rows)
