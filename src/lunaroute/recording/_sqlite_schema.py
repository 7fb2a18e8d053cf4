"""The SQLite session schema, version 5 (the Rust LunaRoute schema), and the migrations 1→2→3→4→5.

Beyond v5, and still readable by Rust tools: the `EXTRA_COLUMNS` (added when missing).

A new database is created directly at version 5. An older one is migrated one version at a time, each step
in its own transaction with foreign keys off (rebuilding `sessions` must not cascade-delete its children),
recording the new version in `schema_version` as part of the same transaction. Then the rollup tables
(`_sqlite_rollup`) are created and backfilled if absent: they are keyed on their own marker, not on the
schema version, so the database stays a v5 one for Rust-compatible tools.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

from lunaroute.recording._sqlite_rollup import ensure_rollups
from lunaroute.recording._tool_repair import repair_split_tool_calls

__all__ = ["SCHEMA_VERSION", "SchemaTooNew", "ensure_schema"]

_log = logging.getLogger("lunaroute.recording.sqlite")

SCHEMA_VERSION = 5

_TOKEN_COLUMNS = (
    "reasoning_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
)

SESSIONS_DDL = """
CREATE TABLE IF NOT EXISTS {name} (
    session_id TEXT PRIMARY KEY,
    request_id TEXT,
    started_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    provider TEXT NOT NULL,
    listener TEXT NOT NULL,
    model_requested TEXT NOT NULL,
    model_used TEXT,
    success BOOLEAN,
    error_message TEXT,
    finish_reason TEXT,
    total_duration_ms INTEGER,
    provider_latency_ms INTEGER,
    input_tokens INTEGER DEFAULT 0,
    output_tokens INTEGER DEFAULT 0,
    thinking_tokens INTEGER DEFAULT 0,
    reasoning_tokens INTEGER DEFAULT 0,
    cache_read_tokens INTEGER DEFAULT 0,
    cache_creation_tokens INTEGER DEFAULT 0,
    audio_input_tokens INTEGER DEFAULT 0,
    audio_output_tokens INTEGER DEFAULT 0,
    total_tokens INTEGER GENERATED ALWAYS AS (
        input_tokens + output_tokens +
        COALESCE(thinking_tokens, 0) +
        COALESCE(reasoning_tokens, 0) +
        COALESCE(cache_read_tokens, 0) +
        COALESCE(cache_creation_tokens, 0) +
        COALESCE(audio_input_tokens, 0) +
        COALESCE(audio_output_tokens, 0)
    ) STORED,
    request_text TEXT,
    response_text TEXT,
    client_ip TEXT,
    user_agent TEXT,
    is_streaming BOOLEAN DEFAULT 0,
    time_to_first_token_ms INTEGER,
    chunk_count INTEGER,
    streaming_duration_ms INTEGER,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
)"""

SESSIONS_COLUMNS = (
    "session_id, request_id, started_at, completed_at, provider, listener, model_requested, model_used, "
    "success, error_message, finish_reason, total_duration_ms, provider_latency_ms, input_tokens, "
    "output_tokens, thinking_tokens, reasoning_tokens, cache_read_tokens, cache_creation_tokens, "
    "audio_input_tokens, audio_output_tokens, request_text, response_text, client_ip, user_agent, "
    "is_streaming, time_to_first_token_ms, chunk_count, streaming_duration_ms, created_at"
)

SESSIONS_INDEXES = (
    "CREATE INDEX IF NOT EXISTS idx_sessions_created ON sessions(created_at DESC)",
    "CREATE INDEX IF NOT EXISTS idx_sessions_provider ON sessions(provider, created_at DESC)",
    "CREATE INDEX IF NOT EXISTS idx_sessions_model ON sessions(model_used, created_at DESC)",
    "CREATE INDEX IF NOT EXISTS idx_sessions_request_id ON sessions(request_id)",
    "CREATE INDEX IF NOT EXISTS idx_sessions_provider_model ON sessions(provider, model_used, created_at DESC)",
    "CREATE INDEX IF NOT EXISTS idx_sessions_streaming ON sessions(is_streaming, created_at DESC)",
    "CREATE INDEX IF NOT EXISTS idx_sessions_started_at ON sessions(started_at DESC)",
    "CREATE INDEX IF NOT EXISTS idx_sessions_user_agent ON sessions(user_agent)",
)

SESSION_STATS_DDL = (
    """CREATE TABLE IF NOT EXISTS session_stats (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    request_id TEXT,
    model_name TEXT NOT NULL,
    pre_processing_ms REAL,
    post_processing_ms REAL,
    proxy_overhead_ms REAL,
    input_tokens INTEGER DEFAULT 0,
    output_tokens INTEGER DEFAULT 0,
    thinking_tokens INTEGER DEFAULT 0,
    reasoning_tokens INTEGER DEFAULT 0,
    cache_read_tokens INTEGER DEFAULT 0,
    cache_creation_tokens INTEGER DEFAULT 0,
    audio_input_tokens INTEGER DEFAULT 0,
    audio_output_tokens INTEGER DEFAULT 0,
    tokens_per_second REAL,
    thinking_percentage REAL,
    request_size_bytes INTEGER,
    response_size_bytes INTEGER,
    message_count INTEGER,
    content_blocks INTEGER,
    has_tools BOOLEAN DEFAULT 0,
    has_refusal BOOLEAN DEFAULT 0,
    user_agent TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (session_id) REFERENCES sessions(session_id) ON DELETE CASCADE
)""",
    "CREATE INDEX IF NOT EXISTS idx_session_stats_session ON session_stats(session_id)",
    "CREATE INDEX IF NOT EXISTS idx_session_stats_model ON session_stats(model_name, created_at DESC)",
    "CREATE INDEX IF NOT EXISTS idx_session_stats_model_covering "
    "ON session_stats(model_name, input_tokens, output_tokens, thinking_tokens)",
    "CREATE INDEX IF NOT EXISTS idx_session_stats_user_agent ON session_stats(user_agent)",
    "CREATE INDEX IF NOT EXISTS idx_session_stats_session_time ON session_stats(session_id, created_at DESC)",
    # Beyond the Rust v5 schema (compatible with it): time-window statistics read only their window.
    "CREATE INDEX IF NOT EXISTS idx_session_stats_created ON session_stats(created_at)",
)

TOOL_STATS_DDL = (
    """CREATE TABLE IF NOT EXISTS tool_stats (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    request_id TEXT,
    model_name TEXT,
    tool_name TEXT NOT NULL,
    call_count INTEGER DEFAULT 1,
    avg_execution_time_ms INTEGER,
    error_count INTEGER DEFAULT 0,
    tool_arguments TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (session_id) REFERENCES sessions(session_id) ON DELETE CASCADE
)""",
    *(
        "CREATE INDEX IF NOT EXISTS idx_tool_stats_model ON tool_stats(model_name, created_at DESC)",
        "CREATE INDEX IF NOT EXISTS idx_tool_stats_session ON tool_stats(session_id)",
        "CREATE INDEX IF NOT EXISTS idx_tool_stats_name ON tool_stats(tool_name, created_at DESC)",
        "CREATE INDEX IF NOT EXISTS idx_tool_stats_name_covering "
        "ON tool_stats(tool_name, call_count, error_count, avg_execution_time_ms)",
        "CREATE UNIQUE INDEX IF NOT EXISTS idx_tool_stats_unique ON tool_stats(session_id, request_id, tool_name)",
    ),
)
TOOL_STATS_INDEXES = TOOL_STATS_DDL[1:]

TOOL_CALL_EXECUTIONS_DDL = (
    """CREATE TABLE IF NOT EXISTS tool_call_executions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    tool_call_id TEXT NOT NULL,
    tool_name TEXT NOT NULL,
    tool_arguments TEXT,
    execution_time_ms INTEGER,
    input_size_bytes INTEGER,
    output_size_bytes INTEGER,
    success BOOLEAN,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (session_id) REFERENCES sessions(session_id) ON DELETE CASCADE
)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_tool_call_executions_unique "
    "ON tool_call_executions(session_id, request_id, tool_call_id)",
    "CREATE INDEX IF NOT EXISTS idx_tool_call_executions_session ON tool_call_executions(session_id, created_at DESC)",
    "CREATE INDEX IF NOT EXISTS idx_tool_call_executions_tool_name ON tool_call_executions(tool_name, created_at DESC)",
    "CREATE INDEX IF NOT EXISTS idx_tool_call_executions_request ON tool_call_executions(request_id)",
)

STREAM_METRICS_DDL = (
    """CREATE TABLE IF NOT EXISTS stream_metrics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    time_to_first_token_ms INTEGER NOT NULL,
    total_chunks INTEGER NOT NULL,
    streaming_duration_ms INTEGER NOT NULL,
    avg_chunk_latency_ms REAL,
    p50_chunk_latency_ms INTEGER,
    p95_chunk_latency_ms INTEGER,
    p99_chunk_latency_ms INTEGER,
    max_chunk_latency_ms INTEGER,
    min_chunk_latency_ms INTEGER,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (session_id) REFERENCES sessions(session_id) ON DELETE CASCADE
)""",
    "CREATE INDEX IF NOT EXISTS idx_stream_metrics_session ON stream_metrics(session_id)",
    "CREATE INDEX IF NOT EXISTS idx_stream_metrics_ttft ON stream_metrics(time_to_first_token_ms)",
    "CREATE INDEX IF NOT EXISTS idx_stream_metrics_chunks ON stream_metrics(total_chunks DESC)",
    "CREATE INDEX IF NOT EXISTS idx_stream_metrics_created ON stream_metrics(created_at)",
)

V5_DDL: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)",
    SESSIONS_DDL.format(name="sessions"),
    *SESSIONS_INDEXES,
    *SESSION_STATS_DDL,
    *TOOL_STATS_DDL,
    *TOOL_CALL_EXECUTIONS_DDL,
    *STREAM_METRICS_DDL,
)


class SchemaTooNew(RuntimeError):
    """The database was written by a newer version (its `schema_version` is above `SCHEMA_VERSION`)."""


def _table_exists(conn: sqlite3.Connection, table: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    return row is not None


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    # table_info cannot take a bound parameter; `table` is always one of our literal names.
    return {row[1] for row in conn.execute(f"PRAGMA table_xinfo({table})")}


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    """Add the reasoning, cache and audio token columns (to `session_stats` too, if it lacks them)."""
    for table in ("sessions", "session_stats"):
        if not _table_exists(conn, table):
            continue
        existing = _columns(conn, table)
        for col in _TOKEN_COLUMNS:
            if col not in existing:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {col} INTEGER DEFAULT 0")


def _migrate_2_to_3(conn: sqlite3.Connection) -> None:
    """Rebuild `sessions` so its generated `total_tokens` sums all eight token columns."""
    conn.execute("DROP TABLE IF EXISTS sessions_new")
    conn.execute(SESSIONS_DDL.format(name="sessions_new"))
    conn.execute(f"INSERT INTO sessions_new ({SESSIONS_COLUMNS}) SELECT {SESSIONS_COLUMNS} FROM sessions")
    conn.execute("DROP TABLE sessions")
    conn.execute("ALTER TABLE sessions_new RENAME TO sessions")
    for ddl in SESSIONS_INDEXES:
        conn.execute(ddl)


def _migrate_3_to_4(conn: sqlite3.Connection) -> None:
    """Add `tool_arguments` to the (then) `tool_calls` table."""
    if _table_exists(conn, "tool_calls") and "tool_arguments" not in _columns(conn, "tool_calls"):
        conn.execute("ALTER TABLE tool_calls ADD COLUMN tool_arguments TEXT")


def _migrate_4_to_5(conn: sqlite3.Connection) -> None:
    """Rename `tool_calls` to `tool_stats`, drop its `'unknown'` rows, add `tool_call_executions`."""
    if _table_exists(conn, "tool_calls"):
        if _table_exists(conn, "tool_stats"):
            (count,) = conn.execute("SELECT COUNT(*) FROM tool_stats").fetchone()
            if count:
                raise RuntimeError(f"migration 4→5: both tool_calls and a non-empty tool_stats ({count} rows)")
            conn.execute("DROP TABLE tool_stats")
        conn.execute("ALTER TABLE tool_calls RENAME TO tool_stats")
        for old in ("model", "session", "name", "unique"):
            conn.execute(f"DROP INDEX IF EXISTS idx_tool_calls_{old}")
    if _table_exists(conn, "tool_stats"):
        conn.execute("DELETE FROM tool_stats WHERE tool_name = 'unknown'")
    for ddl in (*TOOL_STATS_DDL, *TOOL_CALL_EXECUTIONS_DDL):
        conn.execute(ddl)


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
    3: _migrate_3_to_4,
    4: _migrate_4_to_5,
}
"""`MIGRATIONS[n]` takes a version-n database to version n + 1."""


def _version(conn: sqlite3.Connection) -> int | None:
    if not _table_exists(conn, "schema_version"):
        return None
    row = conn.execute("SELECT MIN(version) FROM schema_version").fetchone()
    return None if row is None or row[0] is None else int(row[0])


EXTRA_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("sessions", "key_id", "TEXT"),
    ("sessions", "key_name", "TEXT"),
    ("sessions", "team", "TEXT"),
    ("session_stats", "provider", "TEXT"),
    ("session_stats", "success", "BOOLEAN"),
    ("session_stats", "attempts", "TEXT"),
    ("session_stats", "status_code", "INTEGER"),
    ("session_stats", "duration_ms", "INTEGER"),
)
"""(table, column, type) beyond the Rust v5 schema, added to any v5 database that lacks them: per session, the
gateway key and its team; per request, the provider that answered, whether the request succeeded, the attempts given up before (JSON), the HTTP status the
client got and the request's duration. Rust readers
name their columns, so the database stays a v5 one for them."""


EXTRA_INDEXES = (
    "CREATE INDEX IF NOT EXISTS idx_sessions_key ON sessions(key_id, started_at DESC)",
    "CREATE INDEX IF NOT EXISTS idx_sessions_team ON sessions(team, started_at DESC)",
)


def _ensure_extra_columns(conn: sqlite3.Connection) -> None:
    missing = [(t, c, kind) for t, c, kind in EXTRA_COLUMNS if c not in _columns(conn, t)]
    if not missing:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table, column, kind in missing:
            if column not in _columns(conn, table):  # another writer may have added it meanwhile
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        for ddl in EXTRA_INDEXES:
            conn.execute(ddl)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def ensure_schema(conn: sqlite3.Connection) -> int:
    """Create (at v5) or migrate the schema of `conn` (an autocommit connection); return the old version.

    Returns 0 for a new database. Raises `SchemaTooNew` for a database above version 5. Either way the
    `EXTRA_COLUMNS` and the rollups are then ensured (`ensure_rollups`), and the one-time repairs run
    (`_tool_repair`).
    """
    old = _ensure_v5(conn)
    _ensure_extra_columns(conn)
    ensure_rollups(conn)
    merged = repair_split_tool_calls(conn)
    if merged:
        _log.info("sqlite: %d tool results merged into the calls they answer (counted twice before)", merged)
    return old


def _ensure_v5(conn: sqlite3.Connection) -> int:
    version = _version(conn)
    if version is None and not _table_exists(conn, "sessions"):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for ddl in V5_DDL:
                conn.execute(ddl)
            conn.execute("INSERT OR IGNORE INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return 0
    start = 1 if version is None else version
    if start > SCHEMA_VERSION:
        raise SchemaTooNew(f"database schema version {start} is newer than supported {SCHEMA_VERSION}")
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        for step in range(start, SCHEMA_VERSION):
            conn.execute("BEGIN IMMEDIATE")
            try:
                MIGRATIONS[step](conn)
                conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)")
                conn.execute("DELETE FROM schema_version")
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (step + 1,))
                if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
                    _log.warning("sqlite migration %d→%d: orphaned rows found (kept)", step, step + 1)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            _log.info("sqlite session schema migrated %d→%d", step, step + 1)
        conn.execute("BEGIN IMMEDIATE")
        for ddl in V5_DDL:
            conn.execute(ddl)
        conn.execute("COMMIT")
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
    return start
