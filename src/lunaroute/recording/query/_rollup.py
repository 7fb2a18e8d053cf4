"""Window aggregates read from the rollup tables, exact: whole hours (and days) from the rollups, the partial
first hour from the raw rows; the raw rows alone when a database has no rollups (`available` is False).

Every window ends now and has no upper bound (as the raw queries: a row stamped in the future counts). A
window from `since` splits at `H`, the start of the hour after `since`, written in the column's own format:
raw rows with `since_bound <= ts < H`, and rollup hours with `key >= H`. For any text timestamp `ts` this is
the same set as `ts >= since_bound`, because the hour key is `ts`'s first 13 characters (a key of 13 or
fewer characters is `>= H` exactly when `ts >= H`), and non-text values fall on the same side of a text bound
as their key. Likewise for days, from `D`, the first midnight at or after `H`: hours with `H <= key < D`, days
with `key >= D`. See `lunaroute.recording._sqlite_rollup` for what the rollups hold.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from typing import Literal

from lunaroute.recording._sqlite_rollup import ROLLUP_VERSION, TOKENS, rollup_version, ttft_bucket, ttft_bucket_range
from lunaroute.recording.query._models import TokenCounts
from lunaroute.recording.query._sql import TOKEN_SUMS, created_bound, started_bound

__all__ = [
    "Key",
    "RequestSums",
    "active_sessions",
    "available",
    "request_sums",
    "sessions_per_model",
    "since_clause",
    "started_stats",
    "ttft_stats",
]

Key = Literal["model", "hour", "day", "user_agent"]
RequestSums = dict[tuple[object, ...], tuple[int, TokenCounts]]
"""Per key tuple: the request count and the token sums (groups without requests are left out)."""

_ROLLUP_KEYS: dict[Key, str] = {
    "model": "model_name",
    "hour": "hour",
    "day": "substr(hour, 1, 10)",
    "user_agent": "user_agent",
}
_RAW_KEYS: dict[Key, str] = {
    "model": "ss.model_name",
    "hour": "substr(ss.created_at, 1, 13)",
    "day": "substr(ss.created_at, 1, 10)",
    "user_agent": "COALESCE(s.user_agent, '')",
}
_INDEXED_WINDOW = dt.timedelta(hours=48)
_ROLLUP_SUMS = ", ".join(f"SUM({c})" for c in TOKENS)
_TOKEN_COLS = ", ".join(TOKENS)
_PRIMARY_KEYS: dict[str, set[Key]] = {
    "rollup_requests": {"hour", "model"},
    "rollup_requests_by_agent": {"hour", "model", "user_agent"},
}


def available(conn: sqlite3.Connection) -> bool:
    """Whether the database has the rollups, complete, at the version this code reads."""
    return rollup_version(conn) == ROLLUP_VERSION


def _next_hour(since: dt.datetime) -> dt.datetime:
    utc = since.replace(tzinfo=dt.UTC) if since.tzinfo is None else since.astimezone(dt.UTC)
    return utc.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)


def _created_split(since: dt.datetime) -> tuple[str, str]:
    """(`created_at` bound of `since`, hour key of the next hour) in `CURRENT_TIMESTAMP` format."""
    return created_bound(since), created_bound(_next_hour(since))[:13]


def since_clause(column: str, since: dt.datetime, now: dt.datetime) -> str:
    """`column >= ?`, written so that wide windows are read by a plain table scan (raw reads only).

    The planner would walk the `created_at` index with a random table lookup per row, 2-3 times slower
    than a sequential scan for a wide window; a unary `+` keeps it off the index for windows over 48 hours.
    """
    return f"+{column} >= ?" if now - since > _INDEXED_WINDOW else f"{column} >= ?"


def _merge(out: dict[tuple[object, ...], list[int]], rows: list[tuple[object, ...]], width: int) -> None:
    """Add rows of `width` key columns then nine sums (never NULL: COUNT, and SUMs of NOT NULL or COALESCEd)."""
    for r in rows:
        key, values = r[:width], r[width:]
        acc = out.get(key)
        out[key] = list(values) if acc is None else [a + b for a, b in zip(acc, values, strict=True)]  # type: ignore[arg-type, operator]


def _tokens(v: list[int]) -> TokenCounts:
    return TokenCounts(
        input=v[1],
        output=v[2],
        thinking=v[3],
        reasoning=v[4],
        cache_read=v[5],
        cache_creation=v[6],
        audio_input=v[7],
        audio_output=v[8],
    )


def request_sums(
    conn: sqlite3.Connection,
    since: dt.datetime | None,
    now: dt.datetime,
    keys: Sequence[Key],
    *,
    user_agent: str | None = None,
    rollup: bool,
) -> RequestSums:
    """Request count and token sums of `session_stats` rows since `since` (all when None), grouped by `keys`.

    `user_agent` keeps the requests of sessions with that user agent; the `user_agent` key is the session's
    (`''` for none).
    """
    width = len(keys)
    acc: dict[tuple[object, ...], list[int]] = {}
    raw_since: tuple[str, str | None] | None = None
    if rollup:
        table = "rollup_requests_by_agent" if user_agent or "user_agent" in keys else "rollup_requests"
        where, params = ["1 = 1"], []
        if since is not None:
            raw_since = _created_split(since)
            where.append("hour >= ?")
            params.append(raw_since[1])
        if user_agent:
            where.append("user_agent = ?")
            params.append(user_agent)
        cols, cond = ", ".join(_ROLLUP_KEYS[k] for k in keys), " AND ".join(where)
        if set(keys) == _PRIMARY_KEYS[table]:  # one row per group already
            sql = f"SELECT {cols}, requests, {_TOKEN_COLS} FROM {table} WHERE {cond}"
        else:
            sql = f"SELECT {cols}, SUM(requests), {_ROLLUP_SUMS} FROM {table} WHERE {cond} GROUP BY {cols}"
        rows = conn.execute(sql, params).fetchall()
        _merge(acc, rows, width)
    elif since is not None:
        raw_since = (created_bound(since), None)
    if not rollup or raw_since is not None:
        where, params = ["1 = 1"], []
        if raw_since is not None:
            assert since is not None
            if raw_since[1] is None:
                where.append(since_clause("ss.created_at", since, now))
                params.append(raw_since[0])
            else:
                where.append("ss.created_at >= ? AND ss.created_at < ?")
                params += [raw_since[0], raw_since[1]]
        join = ""
        if user_agent:
            join = "JOIN sessions s ON s.session_id = ss.session_id"
            where.append("s.user_agent = ?")
            params.append(user_agent)
        elif "user_agent" in keys:
            join = "LEFT JOIN sessions s ON s.session_id = ss.session_id"
        cols = ", ".join(_RAW_KEYS[k] for k in keys)
        rows = conn.execute(
            f"SELECT {cols}, COUNT(*), {TOKEN_SUMS} FROM session_stats ss {join} "
            f"WHERE {' AND '.join(where)} GROUP BY {cols}",
            params,
        ).fetchall()
        _merge(acc, rows, width)
    return {k: (v[0], _tokens(v)) for k, v in acc.items() if v[0]}


def active_sessions(conn: sqlite3.Connection, since: dt.datetime, *, rollup: bool) -> int:
    """Sessions with a request since `since` (the window is open-ended, so: whose latest request is)."""
    sql = (
        "SELECT COUNT(*) FROM rollup_sessions WHERE last_at >= ?"
        if rollup  # covered by the (session_id, created_at) index otherwise
        else "SELECT COUNT(DISTINCT session_id) FROM session_stats WHERE created_at >= ?"
    )
    (n,) = conn.execute(sql, (created_bound(since),)).fetchone()
    return int(n)


def sessions_per_model(
    conn: sqlite3.Connection, since: dt.datetime, now: dt.datetime, models: Sequence[object], *, rollup: bool
) -> dict[object, int]:
    """Per model of `models`: the sessions with a request on it since `since` (others may be left out)."""
    if rollup:  # one index range per model: no grouping of the window's sessions
        sql = "SELECT COUNT(*) FROM rollup_session_models WHERE model_name = ? AND last_at >= ?"
        bound = created_bound(since)
        return {m: int(conn.execute(sql, (m, bound)).fetchone()[0]) for m in models}
    sql = (
        "SELECT ss.model_name, COUNT(DISTINCT ss.session_id) FROM session_stats ss "
        f"WHERE {since_clause('ss.created_at', since, now)} GROUP BY 1"
    )
    return {r[0]: int(r[1]) for r in conn.execute(sql, (created_bound(since),)).fetchall()}


def started_stats(conn: sqlite3.Connection, since: dt.datetime, *, rollup: bool) -> tuple[int, int, int, float | None]:
    """Sessions started since `since`: (started, completed, failed, mean `total_duration_ms`)."""
    bound = started_bound(since)
    raw = (
        "SELECT COUNT(*), COUNT(completed_at), COALESCE(SUM(success = 0), 0), "
        "COALESCE(SUM(total_duration_ms), 0), COUNT(total_duration_ms) FROM sessions WHERE started_at >= ?"
    )
    if rollup:
        split = started_bound(_next_hour(since))[:13]
        rows = conn.execute(f"{raw} AND started_at < ?", (bound, split)).fetchall()
        rows += conn.execute(
            "SELECT SUM(sessions), SUM(completed), SUM(failed), SUM(duration_sum), SUM(duration_n) "
            "FROM rollup_started WHERE hour >= ?",
            (split,),
        ).fetchall()
    else:
        rows = conn.execute(raw, (bound,)).fetchall()
    started, completed, failed, total, n = (sum(r[i] or 0 for r in rows) for i in range(5))
    return int(started), int(completed), int(failed), total / n if n else None


def ttft_stats(conn: sqlite3.Connection, since: dt.datetime, *, rollup: bool) -> tuple[float | None, int | None]:
    """Mean and nearest-rank p95 of the TTFT of requests streamed since `since`, both exact.

    With rollups, the per-bucket counts locate the bucket holding the p95 and only that bucket's raw rows
    in the window are read (through the (TTFT, created_at) index) to find the value.
    """
    bound = created_bound(since)
    if not rollup:
        # `+` keeps the planner from walking the TTFT index for the grouping (a random-access scan of it all)
        values = conn.execute(
            "SELECT time_to_first_token_ms, COUNT(*) FROM stream_metrics WHERE +created_at >= ? "
            "GROUP BY +time_to_first_token_ms ORDER BY 1",
            (bound,),
        ).fetchall()
        streamed = sum(n for _, n in values)
        if not streamed:
            return None, None
        return sum(v * n for v, n in values) / streamed, _nearest_rank(values, -(-streamed * 95 // 100))
    split = _created_split(since)[1]
    first_day = dt.datetime.fromisoformat(f"{split}:00:00").replace(tzinfo=dt.UTC)
    if first_day.hour:
        first_day = first_day.replace(hour=0) + dt.timedelta(days=1)
    day = created_bound(first_day)[:10]
    hist: dict[int, list[int]] = {}
    rows = conn.execute(
        f"SELECT {ttft_bucket('time_to_first_token_ms')}, COUNT(*), SUM(time_to_first_token_ms) FROM stream_metrics "
        "WHERE created_at >= ? AND created_at < ? AND time_to_first_token_ms IS NOT NULL GROUP BY 1",
        (bound, split),
    ).fetchall()
    rows += conn.execute(  # the hours before the first whole day, then the days
        "SELECT bucket, SUM(requests), SUM(ttft_sum) FROM rollup_ttft WHERE hour >= ? AND hour < ? GROUP BY bucket",
        (split, day),
    ).fetchall()
    rows += conn.execute(
        "SELECT bucket, SUM(requests), SUM(ttft_sum) FROM rollup_ttft_daily WHERE day >= ? GROUP BY bucket", (day,)
    ).fetchall()
    for bucket, n, total in rows:
        acc = hist.setdefault(int(bucket), [0, 0])
        acc[0] += int(n)
        acc[1] += total
    streamed = sum(n for n, _ in hist.values())
    if not streamed:
        return None, None
    mean = sum(t for _, t in hist.values()) / streamed
    rank, seen = -(-streamed * 95 // 100), 0
    for bucket in sorted(hist):
        n = hist[bucket][0]
        if seen + n >= rank:
            low, high = ttft_bucket_range(bucket)
            if low is None:
                where, params = "time_to_first_token_ms < ?", [high]
            else:
                where, params = "time_to_first_token_ms >= ? AND time_to_first_token_ms < ?", [low, high]
            values = conn.execute(
                f"SELECT time_to_first_token_ms, COUNT(*) FROM stream_metrics WHERE {where} AND created_at >= ? "
                "GROUP BY 1 ORDER BY 1",
                (*params, bound),
            ).fetchall()
            return mean, _nearest_rank(values, rank - seen)
        seen += n
    return mean, None


def _nearest_rank(values: Sequence[tuple[int, int]], rank: int) -> int | None:
    """The value at 1-based `rank` of (value, count) rows in value order."""
    seen = 0
    for value, n in values:
        seen += n
        if seen >= rank:
            return int(value)
    return None
