"""A one-time repair of stores written before a tool call and its result became one row.

A tool call is made in one request's answer and its result comes back with the next request. Stores written
before both were merged (see `_sqlite_tools`) hold two `tool_call_executions` rows for such a call — the call's,
and the result's under the next request — and count the call twice in `tool_stats` (so a session showed
"get_weather (3)" for two calls). The repair merges each result row into the row of the call it answers (its
execution time, output size and success), deletes it, and recounts the `tool_stats` rows involved from the
executions left: the requests that carried results lose the calls they never made, and a failed result counts as
an error on the call. Rollups follow through their triggers (SQLite) or are not kept for tools (PostgreSQL).

SQLite: `repair_split_tool_calls` runs once per database (recorded in `lunaroute_repairs`) when the writer opens
it. PostgreSQL: `PG_REPAIR_SQL` is a schema migration.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

__all__ = ["PG_REPAIR_SQL", "REPAIR_NAME", "repair_split_tool_calls"]

REPAIR_NAME = "split-tool-calls"

_SPLIT = """
WITH firsts AS (
    SELECT session_id, tool_call_id, min(id) AS first_id FROM tool_call_executions
    GROUP BY session_id, tool_call_id HAVING count(*) > 1
)
SELECT l.id, f.first_id, l.session_id, l.request_id, e.request_id, l.tool_name, e.tool_name,
       l.execution_time_ms, l.output_size_bytes, l.success
FROM firsts f
JOIN tool_call_executions l ON l.session_id = f.session_id AND l.tool_call_id = f.tool_call_id AND l.id <> f.first_id
JOIN tool_call_executions e ON e.id = f.first_id
ORDER BY l.id
"""

_COUNT = (
    "SELECT count(*), coalesce(sum(success = 0), 0), avg(execution_time_ms) FROM tool_call_executions "
    "WHERE session_id = ? AND request_id = ? AND tool_name = ?"
)

Key = tuple[str, str, str]


def repair_split_tool_calls(conn: sqlite3.Connection) -> int | None:
    """Repair `conn` (an autocommit connection) once; the result rows merged, or None when done before."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS lunaroute_repairs "
        "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL, merged_rows INTEGER NOT NULL)"
    )
    if conn.execute("SELECT 1 FROM lunaroute_repairs WHERE name = ?", (REPAIR_NAME,)).fetchone() is not None:
        return None
    conn.execute("BEGIN IMMEDIATE")
    try:
        merged = _repair(conn)
        conn.execute(
            "INSERT INTO lunaroute_repairs (name, applied_at, merged_rows) VALUES (?, ?, ?)",
            (REPAIR_NAME, dt.datetime.now(dt.UTC).isoformat(), merged),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return merged


def _repair(conn: sqlite3.Connection) -> int:
    results: set[Key] = set()
    calls: set[Key] = set()
    rows = conn.execute(_SPLIT).fetchall()
    for lid, eid, session_id, result_req, call_req, result_tool, call_tool, time_ms, out_bytes, success in rows:
        conn.execute(
            "UPDATE tool_call_executions SET execution_time_ms = COALESCE(?, execution_time_ms), "
            "output_size_bytes = COALESCE(?, output_size_bytes), success = COALESCE(?, success) WHERE id = ?",
            (time_ms, out_bytes, success, eid),
        )
        conn.execute("DELETE FROM tool_call_executions WHERE id = ?", (lid,))
        results.add((session_id, result_req, result_tool))
        calls.add((session_id, call_req, call_tool))
    for key in results:
        count, failed, avg_ms = conn.execute(_COUNT, key).fetchone()
        if count == 0:
            conn.execute("DELETE FROM tool_stats WHERE session_id = ? AND request_id = ? AND tool_name = ?", key)
        else:
            conn.execute(
                "UPDATE tool_stats SET call_count = ?, error_count = ?, "
                "avg_execution_time_ms = COALESCE(?, avg_execution_time_ms) "
                "WHERE session_id = ? AND request_id = ? AND tool_name = ?",
                (count, failed, _ms(avg_ms), *key),
            )
    for key in calls - results:
        _, failed, avg_ms = conn.execute(_COUNT, key).fetchone()
        conn.execute(
            "UPDATE tool_stats SET error_count = ?, avg_execution_time_ms = COALESCE(?, avg_execution_time_ms) "
            "WHERE session_id = ? AND request_id = ? AND tool_name = ?",
            (failed, _ms(avg_ms), *key),
        )
    return len(rows)


def _ms(value: float | None) -> int | None:
    return None if value is None else round(value)


PG_REPAIR_SQL = """
CREATE TEMP TABLE lunaroute_split ON COMMIT DROP AS
WITH firsts AS (
    SELECT session_id, tool_call_id, min(id) AS first_id FROM tool_call_executions
    GROUP BY session_id, tool_call_id HAVING count(*) > 1
)
SELECT l.id AS result_id, f.first_id AS call_id, l.session_id, l.request_id AS result_request,
       e.request_id AS call_request, l.tool_name AS result_tool, e.tool_name AS call_tool,
       l.execution_time_ms, l.output_size_bytes, l.success
FROM firsts f
JOIN tool_call_executions l ON l.session_id = f.session_id AND l.tool_call_id = f.tool_call_id AND l.id <> f.first_id
JOIN tool_call_executions e ON e.id = f.first_id;

UPDATE tool_call_executions e SET
    execution_time_ms = COALESCE(s.execution_time_ms, e.execution_time_ms),
    output_size_bytes = COALESCE(s.output_size_bytes, e.output_size_bytes),
    success = COALESCE(s.success, e.success)
FROM (
    SELECT call_id, (array_agg(execution_time_ms ORDER BY result_id DESC)
                     FILTER (WHERE execution_time_ms IS NOT NULL))[1] AS execution_time_ms,
           (array_agg(output_size_bytes ORDER BY result_id DESC)
                     FILTER (WHERE output_size_bytes IS NOT NULL))[1] AS output_size_bytes,
           (array_agg(success ORDER BY result_id DESC) FILTER (WHERE success IS NOT NULL))[1] AS success
    FROM lunaroute_split GROUP BY call_id
) s
WHERE e.id = s.call_id;

DELETE FROM tool_call_executions WHERE id IN (SELECT result_id FROM lunaroute_split);

CREATE TEMP TABLE lunaroute_split_counts ON COMMIT DROP AS
SELECT k.session_id, k.request_id, k.tool_name, k.result_side,
       count(x.id) AS calls,
       count(x.id) FILTER (WHERE x.success = false) AS failed,
       round(avg(x.execution_time_ms))::bigint AS avg_ms
FROM (
    SELECT DISTINCT session_id, result_request AS request_id, result_tool AS tool_name, true AS result_side
    FROM lunaroute_split
    UNION
    SELECT DISTINCT session_id, call_request, call_tool, false FROM lunaroute_split s
    WHERE NOT EXISTS (
        SELECT 1 FROM lunaroute_split r
        WHERE r.session_id = s.session_id AND r.result_request = s.call_request AND r.result_tool = s.call_tool
    )
) k
LEFT JOIN tool_call_executions x
    ON x.session_id = k.session_id AND x.request_id = k.request_id AND x.tool_name = k.tool_name
GROUP BY k.session_id, k.request_id, k.tool_name, k.result_side;

DELETE FROM tool_stats t USING lunaroute_split_counts c
WHERE c.result_side AND c.calls = 0
  AND t.session_id = c.session_id AND t.request_id = c.request_id AND t.tool_name = c.tool_name;

UPDATE tool_stats t SET
    call_count = CASE WHEN c.result_side THEN c.calls ELSE t.call_count END,
    error_count = c.failed,
    avg_execution_time_ms = COALESCE(c.avg_ms, t.avg_execution_time_ms)
FROM lunaroute_split_counts c
WHERE (c.calls > 0 OR NOT c.result_side)
  AND t.session_id = c.session_id AND t.request_id = c.request_id AND t.tool_name = c.tool_name;
"""
"""The same repair for PostgreSQL, as one migration (temporary tables dropped at its commit)."""
