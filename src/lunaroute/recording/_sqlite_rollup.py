"""Rollup tables beside the v5 SQLite schema, kept true by triggers, so dashboard aggregates read no raw rows.

The Rust v5 tables are untouched: the rollups are extra tables (`rollup_*`), triggers (`trg_rollup_*`) and
two indexes, and `schema_version` stays 5, so a database stays readable and writable by Rust-compatible
tools; whatever writes the source tables (our writer, the Rust one, a retention job, the UI's delete, a
SQLite shell) fires the triggers, which apply the row's delta with an UPSERT (SQLite 3.24 or later).
`rollup_version` marks their presence; `ensure_rollups` creates them and backfills them from the rows
already there, or rebuilds them when the marker names another version.

What each table holds (every figure equals the aggregate over the source rows it summarises):
- `rollup_requests`: per (hour of `session_stats.created_at`, model): the request count and the eight token
  sums; `rollup_requests_by_agent` the same per (hour, model, user agent of the request's session).
- `rollup_sessions` / `rollup_session_models`: per session (and per session and model) with requests: the
  latest `created_at`, so "sessions with a request since T" is a range count; `rollup_sessions` also holds
  the user agent under which the session's requests are counted in `rollup_requests_by_agent`.
- `rollup_started`: per hour of `sessions.started_at`: sessions, completed, failed, duration sum and count.
- `rollup_ttft` / `rollup_ttft_daily`: per (hour / day of `stream_metrics.created_at`, TTFT bucket): streamed
  requests and TTFT sum. A bucket is the TTFT's integer part to two significant digits (`ttft_bucket_range`
  gives its bounds).
- `rollup_tools`: per tool name (all time): rows, and sums and non-null counts of calls, errors, times.
- `rollup_user_agents`: per non-empty session user agent: sessions.

An hour (day) key is the first 13 (10) characters of a text timestamp (`YYYY-MM-DD HH` or `YYYY-MM-DDTHH`),
any other value itself, `''` for NULL; it compares with a bound the way the timestamp does (see
`lunaroute.recording.query._rollup`).
"""

from __future__ import annotations

import logging
import sqlite3

__all__ = [
    "ROLLUP_VERSION",
    "day_key",
    "ensure_rollups",
    "hour_key",
    "rebuild_rollups",
    "rollup_version",
    "ttft_bucket",
    "ttft_bucket_range",
]

_log = logging.getLogger("lunaroute.recording.sqlite")

ROLLUP_VERSION = 3

TOKENS = (
    "input_tokens",
    "output_tokens",
    "thinking_tokens",
    "reasoning_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
)


def hour_key(column: str, width: int = 13) -> str:
    """The hour key of a timestamp expression (its day key with `width` 10)."""
    return f"COALESCE(CASE WHEN typeof({column}) = 'text' THEN substr({column}, 1, {width}) ELSE {column} END, '')"


def day_key(column: str) -> str:
    return hour_key(column, 10)


def ttft_bucket(v: str) -> str:
    """The TTFT bucket of a numeric expression: -1 below 0, the integer part below 100, else two digits."""
    i = f"CAST(CAST({v} AS INTEGER) AS TEXT)"
    return (
        f"CASE WHEN {v} < 0 THEN -1 WHEN {v} < 100 THEN CAST({v} AS INTEGER) "
        f"ELSE CAST(substr({i}, 1, 2) || substr('0000000000000000000', 1, length({i}) - 2) AS INTEGER) END"
    )


def ttft_bucket_range(bucket: int) -> tuple[int | None, int]:
    """The values `[low, high)` of a TTFT bucket; `low` is None for the bucket of negative values."""
    if bucket < 0:
        return None, 0
    if bucket < 100:
        return bucket, bucket + 1
    return bucket, bucket + 10 ** (len(str(bucket)) - 2)


_TOKEN_COLS = ", ".join(TOKENS)
_TOKEN_DEFS = ", ".join(f"{c} INTEGER NOT NULL" for c in TOKENS)
_TOKEN_ADD = ", ".join(f"{c} = {c} + excluded.{c}" for c in TOKENS)
_AGENT_KEY = "hour, model_name, user_agent"

TABLES = (
    "rollup_version",
    "rollup_requests",
    "rollup_requests_by_agent",
    "rollup_sessions",
    "rollup_session_models",
    "rollup_started",
    "rollup_ttft",
    "rollup_ttft_daily",
    "rollup_tools",
    "rollup_user_agents",
)

_TABLES_DDL = (
    "CREATE TABLE rollup_version (version INTEGER PRIMARY KEY)",
    f"CREATE TABLE rollup_requests (hour NOT NULL, model_name NOT NULL, requests INTEGER NOT NULL, {_TOKEN_DEFS}, "
    "PRIMARY KEY (hour, model_name)) WITHOUT ROWID",
    f"CREATE TABLE rollup_requests_by_agent (hour NOT NULL, model_name NOT NULL, user_agent TEXT NOT NULL, "
    f"requests INTEGER NOT NULL, {_TOKEN_DEFS}, PRIMARY KEY (hour, model_name, user_agent)) WITHOUT ROWID",
    "CREATE TABLE rollup_sessions (session_id TEXT PRIMARY KEY, user_agent TEXT NOT NULL, last_at) WITHOUT ROWID",
    "CREATE INDEX idx_rollup_sessions_last ON rollup_sessions(last_at)",
    "CREATE TABLE rollup_session_models (session_id TEXT NOT NULL, model_name NOT NULL, last_at, "
    "PRIMARY KEY (session_id, model_name)) WITHOUT ROWID",
    "CREATE INDEX idx_rollup_session_models_last ON rollup_session_models(model_name, last_at)",
    "CREATE TABLE rollup_started (hour NOT NULL PRIMARY KEY, sessions INTEGER NOT NULL, completed INTEGER NOT NULL, "
    "failed INTEGER NOT NULL, duration_sum NOT NULL, duration_n INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE rollup_ttft (hour NOT NULL, bucket INTEGER NOT NULL, requests INTEGER NOT NULL, "
    "ttft_sum NOT NULL, PRIMARY KEY (hour, bucket)) WITHOUT ROWID",
    "CREATE TABLE rollup_ttft_daily (day NOT NULL, bucket INTEGER NOT NULL, requests INTEGER NOT NULL, "
    "ttft_sum NOT NULL, PRIMARY KEY (day, bucket)) WITHOUT ROWID",
    "CREATE TABLE rollup_tools (tool_name TEXT PRIMARY KEY, rows INTEGER NOT NULL, calls NOT NULL, "
    "calls_n INTEGER NOT NULL, errors NOT NULL, errors_n INTEGER NOT NULL, time_sum NOT NULL, "
    "time_n INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE rollup_user_agents (user_agent TEXT PRIMARY KEY, sessions INTEGER NOT NULL) WITHOUT ROWID",
)

INDEXES_DDL = (
    # the per-(session, model) latest request, and the exact TTFT percentile within one bucket
    "CREATE INDEX IF NOT EXISTS idx_session_stats_session_model ON session_stats(session_id, model_name, created_at)",
    "CREATE INDEX IF NOT EXISTS idx_stream_metrics_ttft_created ON stream_metrics(time_to_first_token_ms, created_at)",
)


# ---- trigger bodies ------------------------------------------------------------------------------------------
# Every delta is applied with `+` in an UPSERT, never with SUM(): an overflowing `+` turns REAL where SUM()
# would fail the statement, and with it the writer's transaction. A delta builder writes the statements for
# one row `row` (`NEW` / `OLD` in a trigger); with `source` ("table alias") it writes the same for every row
# of that table instead, which is how the backfill applies them.


def _upsert(table: str, key: str, cols: str, values: str, sets: str, source: str | None, where: str = "") -> str:
    """Insert `values` into `table`'s (`key`, `cols`) columns, or add them (`sets`) to the row of that key."""
    if source is None and not where:
        rows = f"VALUES ({values})"
    else:
        rows = f"SELECT {values}" + (f" FROM {source}" if source else "") + f" WHERE {where or 'true'}"
    return f"INSERT INTO {table} ({key}, {cols}) {rows} ON CONFLICT ({key}) DO UPDATE SET {sets};"


def _requests_delta(row: str, sign: str, source: str | None = None) -> list[str]:
    """Add (`sign` '') or subtract (`sign` '-') a `session_stats` row to its `rollup_requests*` buckets."""
    tokens = ", ".join(f"{sign}COALESCE({row}.{c}, 0)" for c in TOKENS)
    ua = f"COALESCE((SELECT user_agent FROM rollup_sessions WHERE session_id = {row}.session_id), '')"
    sets = f"requests = requests + excluded.requests, {_TOKEN_ADD}"
    out = []
    for table, key, cols in (
        ("rollup_requests", f"{hour_key(f'{row}.created_at')}, {row}.model_name", "hour, model_name"),
        ("rollup_requests_by_agent", f"{hour_key(f'{row}.created_at')}, {row}.model_name, {ua}", _AGENT_KEY),
    ):
        out.append(_upsert(table, cols, f"requests, {_TOKEN_COLS}", f"{key}, {sign}1, {tokens}", sets, source))
        if sign:
            out.append(f"DELETE FROM {table} WHERE ({cols}) = ({key}) AND requests = 0;")
    return out


_LATER = "CASE WHEN excluded.last_at > last_at OR last_at IS NULL THEN excluded.last_at ELSE last_at END"


def _session_seen(row: str) -> str:
    """Upsert `row`'s session (with its user agent) and (session, model) as having a request at `created_at`."""
    return (
        f"INSERT INTO rollup_sessions (session_id, user_agent, last_at) VALUES ({row}.session_id, "
        f"COALESCE((SELECT user_agent FROM sessions WHERE session_id = {row}.session_id), ''), {row}.created_at) "
        f"ON CONFLICT (session_id) DO UPDATE SET last_at = {_LATER};\n"
        f"  INSERT INTO rollup_session_models (session_id, model_name, last_at) "
        f"VALUES ({row}.session_id, {row}.model_name, {row}.created_at) "
        f"ON CONFLICT (session_id, model_name) DO UPDATE SET last_at = {_LATER};"
    )


def _session_recount(sid: str, model: str, when: str = "1") -> str:
    """Recompute the latest request of session `sid` (and of `sid` with `model`) when `when`; drop them if gone."""
    latest = f"(SELECT MAX(created_at) FROM session_stats WHERE session_id = {sid})"
    latest_m = f"(SELECT MAX(created_at) FROM session_stats WHERE session_id = {sid} AND model_name = {model})"
    return (
        f"UPDATE rollup_sessions SET last_at = {latest} WHERE session_id = {sid} AND ({when});\n"
        f"  DELETE FROM rollup_sessions WHERE session_id = {sid} AND ({when}) "
        f"AND NOT EXISTS (SELECT 1 FROM session_stats WHERE session_id = {sid});\n"
        f"  UPDATE rollup_session_models SET last_at = {latest_m} "
        f"WHERE session_id = {sid} AND model_name = {model} AND ({when});\n"
        f"  DELETE FROM rollup_session_models WHERE session_id = {sid} AND model_name = {model} AND ({when}) "
        f"AND NOT EXISTS (SELECT 1 FROM session_stats WHERE session_id = {sid} AND model_name = {model});"
    )


def _move_session(sid: str) -> str:
    """Count session `sid`'s requests under its current user agent (it changed, appeared or went away)."""
    new_ua = f"COALESCE((SELECT user_agent FROM sessions WHERE session_id = {sid}), '')"
    src = "rollup_sessions r JOIN session_stats ss ON ss.session_id = r.session_id"
    where = f"r.session_id = {sid} AND r.user_agent IS NOT {new_ua}"
    sets = f"requests = requests + excluded.requests, {_TOKEN_ADD}"

    def shift(ua: str, sign: str) -> str:
        tokens = ", ".join(f"{sign}COALESCE(ss.{c}, 0)" for c in TOKENS)
        values = f"{hour_key('ss.created_at')}, ss.model_name, {ua}, {sign}1, {tokens}"
        cols = f"requests, {_TOKEN_COLS}"
        return _upsert("rollup_requests_by_agent", _AGENT_KEY, cols, values, sets, src, where)

    return (
        f"{shift('r.user_agent', '-')}\n  {shift(new_ua, '')}\n"
        f"  DELETE FROM rollup_requests_by_agent WHERE requests = 0 "
        f"AND user_agent = (SELECT user_agent FROM rollup_sessions WHERE session_id = {sid}) "
        f"AND (hour, model_name) IN (SELECT {hour_key('created_at')}, model_name FROM session_stats "
        f"WHERE session_id = {sid});\n"
        f"  UPDATE rollup_sessions SET user_agent = {new_ua} WHERE session_id = {sid};"
    )


def _started_delta(row: str, sign: str, source: str | None = None) -> list[str]:
    key = hour_key(f"{row}.started_at")
    values = (
        f"{key}, {sign}1, {sign}({row}.completed_at IS NOT NULL), {sign}COALESCE({row}.success = 0, 0), "
        f"{sign}COALESCE({row}.total_duration_ms, 0), {sign}({row}.total_duration_ms IS NOT NULL)"
    )
    sets = ", ".join(f"{c} = {c} + excluded.{c}" for c in ("sessions", "completed", "failed", "duration_sum"))
    cols = "sessions, completed, failed, duration_sum, duration_n"
    sets += ", duration_n = duration_n + excluded.duration_n"
    out = [_upsert("rollup_started", "hour", cols, values, sets, source)]
    if sign:
        out.append(f"DELETE FROM rollup_started WHERE hour = {key} AND sessions = 0;")
    return out


def _agent_delta(row: str, sign: str) -> list[str]:
    ua = f"{row}.user_agent"
    out = [
        _upsert(
            "rollup_user_agents",
            "user_agent",
            "sessions",
            f"{ua}, {sign}1",
            "sessions = sessions + excluded.sessions",
            None,
            f"{ua} IS NOT NULL AND {ua} != ''",
        )
    ]
    if sign:
        out.append(f"DELETE FROM rollup_user_agents WHERE user_agent = {ua} AND sessions = 0;")
    return out


def _ttft_delta(row: str, sign: str, source: str | None = None) -> list[str]:
    v = f"{row}.time_to_first_token_ms"
    sets = "requests = requests + excluded.requests, ttft_sum = ttft_sum + excluded.ttft_sum"
    out = []
    for table, col, key in (("rollup_ttft", "hour", hour_key), ("rollup_ttft_daily", "day", day_key)):
        k = f"{key(f'{row}.created_at')}, {ttft_bucket(v)}"
        values = f"{k}, {sign}1, {sign}{v}"
        out.append(_upsert(table, f"{col}, bucket", "requests, ttft_sum", values, sets, source, f"{v} IS NOT NULL"))
        if sign:
            out.append(f"DELETE FROM {table} WHERE ({col}, bucket) = ({k}) AND requests = 0;")
    return out


def _tools_delta(row: str, sign: str, source: str | None = None) -> list[str]:
    parts = []
    for col, name in (("call_count", "calls"), ("error_count", "errors"), ("avg_execution_time_ms", "time")):
        total = "time_sum" if name == "time" else name
        parts.append((total, f"{sign}COALESCE({row}.{col}, 0)"))
        parts.append((f"{name}_n", f"{sign}({row}.{col} IS NOT NULL)"))
    cols = ", ".join(c for c, _ in parts)
    values = ", ".join(v for _, v in parts)
    sets = ", ".join(f"{c} = {c} + excluded.{c}" for c, _ in parts)
    out = [
        _upsert(
            "rollup_tools",
            "tool_name",
            f"rows, {cols}",
            f"{row}.tool_name, {sign}1, {values}",
            f"rows = rows + excluded.rows, {sets}",
            source,
        )
    ]
    if sign:
        out.append(f"DELETE FROM rollup_tools WHERE tool_name = {row}.tool_name AND rows = 0;")
    return out


def _body(*parts: str | list[str]) -> str:
    return "\n  ".join(p for part in parts for p in ([part] if isinstance(part, str) else part))


def _changed(*cols: str) -> str:
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in cols)


def _trigger(name: str, event: str, body: str, when: str | None = None) -> str:
    cond = f" WHEN {when}" if when else ""
    return f"CREATE TRIGGER {name} AFTER {event}{cond} BEGIN\n  {body}\nEND"


_STATS_KEY = ("session_id", "model_name", "created_at")
_STARTED = ("started_at", "completed_at", "success", "total_duration_ms")
_TOOL_COLS = ("tool_name", "call_count", "error_count", "avg_execution_time_ms")

_TRIGGERS_DDL = (
    _trigger(
        "trg_rollup_stats_insert",
        "INSERT ON session_stats",
        _body(_session_seen("NEW"), _requests_delta("NEW", "")),
    ),
    _trigger(
        "trg_rollup_stats_delete",
        "DELETE ON session_stats",
        _body(
            _requests_delta("OLD", "-"),
            # the latest request is recomputed only when the deleted row may have been it
            _session_recount(
                "OLD.session_id",
                "OLD.model_name",
                "last_at IS NULL OR OLD.created_at IS NULL OR OLD.created_at >= last_at",
            ),
        ),
    ),
    _trigger(
        "trg_rollup_stats_update",
        f"UPDATE OF {', '.join((*_STATS_KEY, *TOKENS))} ON session_stats",
        _body(
            _requests_delta("OLD", "-"),
            _session_seen("NEW"),
            _requests_delta("NEW", ""),
            _session_recount("OLD.session_id", "OLD.model_name", _changed(*_STATS_KEY)),
            _session_recount("NEW.session_id", "NEW.model_name", _changed(*_STATS_KEY)),
        ),
        _changed(*_STATS_KEY, *TOKENS),
    ),
    _trigger(
        "trg_rollup_sessions_insert",
        "INSERT ON sessions",
        _body(_started_delta("NEW", ""), _agent_delta("NEW", ""), _move_session("NEW.session_id")),
    ),
    _trigger(
        "trg_rollup_sessions_update",
        f"UPDATE OF {', '.join(_STARTED)} ON sessions",
        _body(_started_delta("OLD", "-"), _started_delta("NEW", "")),
        _changed(*_STARTED),
    ),
    _trigger(
        "trg_rollup_sessions_agent",
        "UPDATE OF session_id, user_agent ON sessions",
        _body(
            _agent_delta("OLD", "-"),
            _agent_delta("NEW", ""),
            _move_session("OLD.session_id"),
            _move_session("NEW.session_id"),
        ),
        _changed("session_id", "user_agent"),
    ),
    _trigger(
        "trg_rollup_sessions_delete",
        "DELETE ON sessions",
        _body(_started_delta("OLD", "-"), _agent_delta("OLD", "-"), _move_session("OLD.session_id")),
    ),
    _trigger("trg_rollup_ttft_insert", "INSERT ON stream_metrics", _body(_ttft_delta("NEW", ""))),
    _trigger("trg_rollup_ttft_delete", "DELETE ON stream_metrics", _body(_ttft_delta("OLD", "-"))),
    _trigger(
        "trg_rollup_ttft_update",
        "UPDATE OF time_to_first_token_ms, created_at ON stream_metrics",
        _body(_ttft_delta("OLD", "-"), _ttft_delta("NEW", "")),
        _changed("time_to_first_token_ms", "created_at"),
    ),
    _trigger("trg_rollup_tools_insert", "INSERT ON tool_stats", _body(_tools_delta("NEW", ""))),
    _trigger("trg_rollup_tools_delete", "DELETE ON tool_stats", _body(_tools_delta("OLD", "-"))),
    _trigger(
        "trg_rollup_tools_update",
        f"UPDATE OF {', '.join(_TOOL_COLS)} ON tool_stats",
        _body(_tools_delta("OLD", "-"), _tools_delta("NEW", "")),
        _changed(*_TOOL_COLS),
    ),
)


# ---- backfill ------------------------------------------------------------------------------------------------

_BACKFILL = (
    # MAX and COUNT cannot overflow; the sums are the triggers' own per-row deltas
    "INSERT INTO rollup_sessions (session_id, user_agent, last_at) SELECT ss.session_id, "
    "COALESCE((SELECT user_agent FROM sessions s WHERE s.session_id = ss.session_id), ''), MAX(ss.created_at) "
    "FROM session_stats ss GROUP BY ss.session_id",
    "INSERT INTO rollup_session_models (session_id, model_name, last_at) "
    "SELECT session_id, model_name, MAX(created_at) FROM session_stats GROUP BY session_id, model_name",
    *_requests_delta("ss", "", "session_stats ss"),
    *_started_delta("s", "", "sessions s"),
    *_ttft_delta("m", "", "stream_metrics m"),
    *_tools_delta("t", "", "tool_stats t"),
    "INSERT INTO rollup_user_agents (user_agent, sessions) SELECT user_agent, COUNT(*) FROM sessions "
    "WHERE user_agent IS NOT NULL AND user_agent != '' GROUP BY user_agent",
)


def rebuild_rollups(conn: sqlite3.Connection) -> None:
    """Empty the rollup tables and fill them from the source rows (inside the caller's transaction)."""
    for table in TABLES[1:]:
        conn.execute(f"DELETE FROM {table}")
    for sql in _BACKFILL:
        conn.execute(sql)


def _drop(conn: sqlite3.Connection) -> None:
    rows = conn.execute(
        "SELECT type, name FROM sqlite_master WHERE (type = 'trigger' AND name LIKE 'trg\\_rollup\\_%' ESCAPE '\\') "
        "OR (type = 'table' AND name LIKE 'rollup\\_%' ESCAPE '\\')"
    ).fetchall()
    for kind, name in sorted(rows, key=lambda r: r[0] != "trigger"):
        conn.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')


def rollup_version(conn: sqlite3.Connection) -> int | None:
    """The version of the rollups in `conn`'s database; None when absent or when a trigger is missing.

    A trigger goes with its table: a tool that rebuilds a v5 table drops the triggers on it, and from then on
    the rollups would drift, so they count as absent (and are rebuilt when the writer next opens the file).
    """
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rollup_version'").fetchone()
    if found is None:
        return None
    (triggers,) = conn.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'trg\\_rollup\\_%' ESCAPE '\\'"
    ).fetchone()
    row = conn.execute("SELECT MAX(version) FROM rollup_version").fetchone()
    if triggers != len(_TRIGGERS_DDL) or row is None or row[0] is None:
        return None
    return int(row[0])


def ensure_rollups(conn: sqlite3.Connection) -> bool:
    """Create and backfill the rollups of a v5 database unless present at `ROLLUP_VERSION`; True if (re)built.

    `conn` is an autocommit connection; the work is one `BEGIN IMMEDIATE` transaction (another process
    opening the same file waits for it, then finds the rollups present).
    """
    if rollup_version(conn) == ROLLUP_VERSION:
        return False
    conn.execute("BEGIN IMMEDIATE")
    try:
        old = rollup_version(conn)
        if old == ROLLUP_VERSION:
            conn.execute("COMMIT")
            return False
        _drop(conn)
        for ddl in (*_TABLES_DDL, *INDEXES_DDL, *_TRIGGERS_DDL):
            conn.execute(ddl)
        rebuild_rollups(conn)
        conn.execute("INSERT INTO rollup_version (version) VALUES (?)", (ROLLUP_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    _log.info("sqlite rollups %s (version %d)", "created" if old is None else f"rebuilt from {old}", ROLLUP_VERSION)
    return True
