"""PostgreSQL window aggregates: request sums by key, active sessions, sessions per model, started, TTFT.

The twin of `_rollup`: with the rollups of migration 6 (`lunaroute.recording._pg_rollup`) a window from `since`
reads its raw rows only for the partial first hour, `[since, H)` with `H` the start of the next hour, and the
rollups (plus the deltas not yet compacted) for the hours from `H`; without them (a database an older writer
migrated) everything is read from the raw rows. The figures are the same either way. Hour and day keys are the
text SQLite groups by (`YYYY-MM-DD HH`, `YYYY-MM-DD`), so the code above both stores is shared.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from lunaroute.recording._pg_rollup import TTFT_BUCKET, ttft_width
from lunaroute.recording.query._pg_sql import TOKEN_SUMS, created_floor, utc
from lunaroute.recording.query._rollup import Key, RequestSums
from lunaroute.recording.query._sql import TOKEN_COLUMNS, tokens_at

__all__ = [
    "ROLLUP_MIGRATION",
    "active_sessions",
    "request_sums",
    "sessions_per_model",
    "started_stats",
    "ttft_stats",
]

ROLLUP_MIGRATION = 6
"""The schema migration that adds the rollups; a database at it or later has them."""

_RAW_KEYS: dict[Key, str] = {
    "model": "ss.model_name",
    "hour": "to_char(ss.created_at, 'YYYY-MM-DD HH24')",
    "day": "to_char(ss.created_at, 'YYYY-MM-DD')",
    "user_agent": "COALESCE(s.user_agent, '')",
}
_ROLLUP_KEYS: dict[Key, str] = {
    "model": "model_name",
    "hour": "to_char(hour, 'YYYY-MM-DD HH24')",
    "day": "to_char(hour, 'YYYY-MM-DD')",
    "user_agent": "user_agent",
}
_ROLLUP_SUMS = ", ".join(f"SUM({c})::bigint" for c in TOKEN_COLUMNS)
_ROLLUP_COLS = ", ".join(TOKEN_COLUMNS)


async def has_rollups(conn: Any) -> bool:
    """Whether the database's migrations include the rollups."""
    version = await conn.fetchval("SELECT max(version) FROM schema_migrations")
    return version is not None and int(version) >= ROLLUP_MIGRATION


def _next_hour(since: dt.datetime) -> dt.datetime:
    """`H`: the start of the hour after `since` (at whole seconds, as the raw bound)."""
    return created_floor(since).replace(minute=0, second=0) + dt.timedelta(hours=1)


def _naive(value: dt.datetime) -> dt.datetime:
    """A UTC instant as the rollups' `hour` column holds it (`timestamp`, UTC wall time)."""
    return utc(value).replace(tzinfo=None)


def _merge(out: dict[tuple[object, ...], list[int]], rows: Sequence[Any], width: int) -> None:
    for r in rows:
        row = tuple(r)
        key, values = row[:width], [int(v or 0) for v in row[width:]]
        acc = out.get(key)
        out[key] = values if acc is None else [a + b for a, b in zip(acc, values, strict=True)]


async def request_sums(
    conn: Any,
    since: dt.datetime | None,
    keys: Sequence[Key],
    *,
    user_agent: str | None = None,
    rollup: bool = False,
) -> RequestSums:
    """Request count and token sums of `session_stats` rows since `since` (all when None), grouped by `keys`;
    `user_agent` keeps the requests of sessions with that user agent (the `user_agent` key is the session's)."""
    width = len(keys)
    acc: dict[tuple[object, ...], list[int]] = {}
    raw_until: dt.datetime | None = None
    if rollup:
        where: list[str] = ["true"]
        params: list[object] = []
        if since is not None:
            raw_until = _next_hour(since)
            params.append(_naive(raw_until))
            where.append(f"hour >= ${len(params)}")
        if user_agent:
            params.append(user_agent)
            where.append(f"user_agent = ${len(params)}")
        cols = ", ".join(_ROLLUP_KEYS[k] for k in keys)
        cond = " AND ".join(where)
        rows = await conn.fetch(
            f"SELECT {cols}, SUM(requests)::bigint, {_ROLLUP_SUMS} FROM ("
            f"SELECT * FROM (SELECT hour, model_name, user_agent, requests, {_ROLLUP_COLS} FROM rollup_requests "
            f"UNION ALL SELECT hour, model_name, user_agent, requests, {_ROLLUP_COLS} FROM rollup_requests_delta) u "
            f"WHERE {cond}) w GROUP BY {', '.join(str(i + 1) for i in range(width))}",
            *params,
        )
        _merge(acc, rows, width)
    if not rollup or raw_until is not None:
        where, params, join = ["true"], [], ""
        if since is not None:
            params.append(created_floor(since))
            where.append(f"ss.created_at >= ${len(params)}")
        if raw_until is not None:
            params.append(raw_until)
            where.append(f"ss.created_at < ${len(params)}")
        if user_agent:
            join = "JOIN sessions s ON s.session_id = ss.session_id"
            params.append(user_agent)
            where.append(f"s.user_agent = ${len(params)}")
        elif "user_agent" in keys:
            join = "LEFT JOIN sessions s ON s.session_id = ss.session_id"
        cols = ", ".join(_RAW_KEYS[k] for k in keys)
        rows = await conn.fetch(
            f"SELECT {cols}, COUNT(*), {TOKEN_SUMS} FROM session_stats ss {join} "
            f"WHERE {' AND '.join(where)} GROUP BY {', '.join(str(i + 1) for i in range(width))}",
            *params,
        )
        _merge(acc, rows, width)
    return {k: (v[0], tokens_at((0, *v[1:]), 1)) for k, v in acc.items() if v[0]}


async def active_sessions(conn: Any, since: dt.datetime, *, rollup: bool = False) -> int:
    """Sessions with a request since `since` (the window is open-ended, so: whose latest request is)."""
    sql = (
        "SELECT COUNT(*) FROM rollup_sessions WHERE last_at >= $1"
        if rollup
        else "SELECT COUNT(DISTINCT session_id) FROM session_stats WHERE created_at >= $1"
    )
    return int(await conn.fetchval(sql, created_floor(since)))


async def sessions_per_model(
    conn: Any, since: dt.datetime, models: Sequence[object], *, rollup: bool = False
) -> dict[object, int]:
    """Per model of `models`: the sessions with a request on it since `since` (others may be left out)."""
    bound = created_floor(since)
    if rollup:  # one index range per model
        sql = "SELECT COUNT(*) FROM rollup_session_models WHERE model_name = $1 AND last_at >= $2"
        return {m: int(await conn.fetchval(sql, m, bound)) for m in models}
    rows = await conn.fetch(
        "SELECT model_name, COUNT(DISTINCT session_id) FROM session_stats WHERE created_at >= $1 GROUP BY 1", bound
    )
    return {r[0]: int(r[1]) for r in rows}


async def started_stats(conn: Any, since: dt.datetime, *, rollup: bool = False) -> tuple[int, int, int, float | None]:
    """Sessions started since `since`: (started, completed, failed, mean `total_duration_ms`)."""
    raw = (
        "SELECT COUNT(*), COUNT(completed_at), COUNT(*) FILTER (WHERE success = false), "
        "COALESCE(SUM(total_duration_ms), 0)::bigint, COUNT(total_duration_ms) FROM sessions WHERE started_at >= $1"
    )
    if rollup:
        split = utc(since).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
        rows = [await conn.fetchrow(f"{raw} AND started_at < $2", utc(since), split)]
        rows.append(
            await conn.fetchrow(
                "SELECT SUM(sessions)::bigint, SUM(completed)::bigint, SUM(failed)::bigint, "
                "SUM(duration_sum)::bigint, SUM(duration_n)::bigint FROM (SELECT * FROM rollup_started UNION ALL "
                "SELECT hour, sessions, completed, failed, duration_sum, duration_n FROM rollup_started_delta) u "
                "WHERE hour >= $1",
                _naive(split),
            )
        )
    else:
        rows = [await conn.fetchrow(raw, utc(since))]
    started, completed, failed, total, n = (sum(int(r[i] or 0) for r in rows) for i in range(5))
    return started, completed, failed, total / n if n else None


async def ttft_stats(conn: Any, since: dt.datetime, *, rollup: bool = False) -> tuple[float | None, int | None]:
    """Mean and nearest-rank p95 of the TTFT of requests streamed since `since`, both exact.

    With rollups, the per-bucket counts locate the bucket holding the p95, and only that bucket's rows in the
    window are read (through the (TTFT, created_at) index) to find the value."""
    bound = created_floor(since)
    if not rollup:
        streamed, total = await conn.fetchrow(
            "SELECT COUNT(*), SUM(time_to_first_token_ms)::bigint FROM stream_metrics WHERE created_at >= $1", bound
        )
        if not streamed:
            return None, None
        rank = -(-int(streamed) * 95 // 100)  # integer nearest rank (percentile_disc's float product can miss it)
        p95 = await conn.fetchval(
            "SELECT time_to_first_token_ms FROM stream_metrics WHERE created_at >= $1 ORDER BY 1 OFFSET $2 LIMIT 1",
            bound,
            rank - 1,
        )
        return total / streamed, None if p95 is None else int(p95)
    split = _next_hour(since)
    rows = await conn.fetch(
        f"SELECT {TTFT_BUCKET}, COUNT(*), SUM(time_to_first_token_ms)::bigint FROM stream_metrics "
        "WHERE created_at >= $1 AND created_at < $2 GROUP BY 1",
        bound,
        split,
    )
    day = dt.datetime.combine(split.date(), dt.time(), dt.UTC)
    day = day if day == split else day + dt.timedelta(days=1)  # the first midnight at or after `split`
    rows += await conn.fetch(  # the hours before the first whole day, the days, and the pending deltas
        "SELECT bucket, SUM(n)::bigint, SUM(t)::bigint FROM ("
        "SELECT bucket, requests AS n, ttft_sum AS t FROM rollup_ttft WHERE hour >= $1 AND hour < $2 UNION ALL "
        "SELECT bucket, requests, ttft_sum FROM rollup_ttft_daily WHERE day >= $3 UNION ALL "
        "SELECT bucket, requests, ttft_sum FROM rollup_ttft_delta WHERE hour >= $1) u GROUP BY 1",
        _naive(split),
        _naive(day),
        day.date(),
    )
    hist: dict[int, list[int]] = {}
    for bucket, n, total in rows:
        acc = hist.setdefault(int(bucket), [0, 0])
        acc[0] += int(n or 0)
        acc[1] += int(total or 0)
    streamed = sum(n for n, _ in hist.values())
    if not streamed:
        return None, None
    mean = sum(t for _, t in hist.values()) / streamed
    rank, seen = -(-streamed * 95 // 100), 0
    for bucket in sorted(hist):
        n = hist[bucket][0]
        if n and seen + n >= rank:
            value = await conn.fetchval(
                "SELECT time_to_first_token_ms FROM stream_metrics WHERE time_to_first_token_ms >= $1 "
                "AND time_to_first_token_ms < $2 AND created_at >= $3 ORDER BY 1 OFFSET $4 LIMIT 1",
                bucket,
                bucket + ttft_width(bucket),
                bound,
                rank - seen - 1,
            )
            return mean, None if value is None else int(value)
        seen += n
    return mean, None
