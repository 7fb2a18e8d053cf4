"""PostgreSQL window aggregates: request sums by key, active sessions, sessions started, TTFT mean and p95.

The PostgreSQL twin of `_rollup` (which also reads the raw rows when a SQLite database has no rollups): the
same groups and figures, read from `session_stats`, `sessions` and `stream_metrics` through the
`created_at` / `started_at` indexes of migration 4. Hour and day keys are the text SQLite groups by
(`YYYY-MM-DD HH`, `YYYY-MM-DD`), so the code above both stores is shared.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from lunaroute.recording.query._pg_sql import TOKEN_SUMS, created_floor, utc
from lunaroute.recording.query._rollup import Key, RequestSums
from lunaroute.recording.query._sql import tokens_at

__all__ = ["active_sessions", "request_sums", "sessions_per_model", "started_stats", "ttft_stats"]

_KEYS: dict[Key, str] = {
    "model": "ss.model_name",
    "hour": "to_char(ss.created_at, 'YYYY-MM-DD HH24')",
    "day": "to_char(ss.created_at, 'YYYY-MM-DD')",
    "user_agent": "COALESCE(s.user_agent, '')",
}


async def request_sums(
    conn: Any, since: dt.datetime | None, keys: Sequence[Key], *, user_agent: str | None = None
) -> RequestSums:
    """Request count and token sums of `session_stats` rows since `since` (all when None), grouped by `keys`;
    `user_agent` keeps the requests of sessions with that user agent."""
    where, join = ["true"], ""
    params: list[object] = []
    if since is not None:
        params.append(created_floor(since))
        where.append(f"ss.created_at >= ${len(params)}")
    if user_agent:
        join = "JOIN sessions s ON s.session_id = ss.session_id"
        params.append(user_agent)
        where.append(f"s.user_agent = ${len(params)}")
    elif "user_agent" in keys:
        join = "LEFT JOIN sessions s ON s.session_id = ss.session_id"
    cols = ", ".join(_KEYS[k] for k in keys)
    groups = ", ".join(str(i + 1) for i in range(len(keys)))
    rows = await conn.fetch(
        f"SELECT {cols}, COUNT(*), {TOKEN_SUMS} FROM session_stats ss {join} "
        f"WHERE {' AND '.join(where)} GROUP BY {groups}",
        *params,
    )
    width = len(keys)
    out: RequestSums = {}
    for r in rows:
        row = tuple(r)
        if row[width]:
            out[row[:width]] = (int(row[width]), tokens_at(row, width + 1))
    return out


async def active_sessions(conn: Any, since: dt.datetime) -> int:
    """Sessions with a request since `since`."""
    n = await conn.fetchval(
        "SELECT COUNT(DISTINCT session_id) FROM session_stats WHERE created_at >= $1", created_floor(since)
    )
    return int(n)


async def sessions_per_model(conn: Any, since: dt.datetime) -> dict[object, int]:
    """Per model: the sessions with a request on it since `since`."""
    rows = await conn.fetch(
        "SELECT model_name, COUNT(DISTINCT session_id) FROM session_stats WHERE created_at >= $1 GROUP BY 1",
        created_floor(since),
    )
    return {r[0]: int(r[1]) for r in rows}


async def started_stats(conn: Any, since: dt.datetime) -> tuple[int, int, int, float | None]:
    """Sessions started since `since`: (started, completed, failed, mean `total_duration_ms`)."""
    started, completed, failed, total, n = await conn.fetchrow(
        "SELECT COUNT(*), COUNT(completed_at), COUNT(*) FILTER (WHERE success = false), "
        "COALESCE(SUM(total_duration_ms), 0)::bigint, COUNT(total_duration_ms) FROM sessions WHERE started_at >= $1",
        utc(since),
    )
    return int(started), int(completed), int(failed), total / n if n else None


async def ttft_stats(conn: Any, since: dt.datetime) -> tuple[float | None, int | None]:
    """Mean and nearest-rank p95 of the TTFT of requests streamed since `since`."""
    bound = created_floor(since)
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
