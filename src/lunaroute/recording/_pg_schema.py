"""The PostgreSQL session schema: the tables of the SQLite schema v5, versioned in `schema_migrations`.

Same tables, columns and indexes as SQLite, with PostgreSQL types (TIMESTAMPTZ, BIGINT, DOUBLE PRECISION).
One addition: `session_stats` and `stream_metrics` are UNIQUE on (session_id, request_id), so that several
replicas replaying the same events still keep one row per request. Migrations run in one transaction under
an advisory lock, so replicas starting together apply each exactly once.
"""

from __future__ import annotations

from typing import Any

from lunaroute.recording._pg_rollup import MIGRATION_SQL as _V6
from lunaroute.recording._tool_repair import PG_REPAIR_SQL

__all__ = ["MIGRATIONS", "migrate"]

_TOKENS = (
    "input_tokens",
    "output_tokens",
    "thinking_tokens",
    "reasoning_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
)
_TOKEN_COLS = ",\n".join(f"    {c} BIGINT DEFAULT 0" for c in _TOKENS)
_TOTAL = " + ".join(f"COALESCE({c}, 0)" for c in _TOKENS)

_V1 = f"""
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    request_id TEXT,
    started_at TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ,
    provider TEXT NOT NULL,
    listener TEXT NOT NULL,
    model_requested TEXT NOT NULL,
    model_used TEXT,
    success BOOLEAN,
    error_message TEXT,
    finish_reason TEXT,
    total_duration_ms BIGINT,
    provider_latency_ms BIGINT,
{_TOKEN_COLS},
    total_tokens BIGINT GENERATED ALWAYS AS ({_TOTAL}) STORED,
    request_text TEXT,
    response_text TEXT,
    client_ip TEXT,
    user_agent TEXT,
    is_streaming BOOLEAN DEFAULT FALSE,
    time_to_first_token_ms BIGINT,
    chunk_count BIGINT,
    streaming_duration_ms BIGINT,
    created_at TIMESTAMPTZ DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_sessions_created ON sessions(created_at DESC);
CREATE INDEX IF NOT EXISTS idx_sessions_provider ON sessions(provider, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_sessions_model ON sessions(model_used, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_sessions_request_id ON sessions(request_id);
CREATE INDEX IF NOT EXISTS idx_sessions_provider_model ON sessions(provider, model_used, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_sessions_streaming ON sessions(is_streaming, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_sessions_started_at ON sessions(started_at DESC);
CREATE INDEX IF NOT EXISTS idx_sessions_user_agent ON sessions(user_agent);

CREATE TABLE IF NOT EXISTS session_stats (
    id BIGSERIAL PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    request_id TEXT,
    model_name TEXT NOT NULL,
    pre_processing_ms DOUBLE PRECISION,
    post_processing_ms DOUBLE PRECISION,
    proxy_overhead_ms DOUBLE PRECISION,
{_TOKEN_COLS},
    tokens_per_second DOUBLE PRECISION,
    thinking_percentage DOUBLE PRECISION,
    request_size_bytes BIGINT,
    response_size_bytes BIGINT,
    message_count BIGINT,
    content_blocks BIGINT,
    has_tools BOOLEAN DEFAULT FALSE,
    has_refusal BOOLEAN DEFAULT FALSE,
    user_agent TEXT,
    created_at TIMESTAMPTZ DEFAULT now(),
    UNIQUE (session_id, request_id)
);
CREATE INDEX IF NOT EXISTS idx_session_stats_session ON session_stats(session_id);
CREATE INDEX IF NOT EXISTS idx_session_stats_model ON session_stats(model_name, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_session_stats_model_covering
    ON session_stats(model_name, input_tokens, output_tokens, thinking_tokens);
CREATE INDEX IF NOT EXISTS idx_session_stats_user_agent ON session_stats(user_agent);
CREATE INDEX IF NOT EXISTS idx_session_stats_session_time ON session_stats(session_id, created_at DESC);

CREATE TABLE IF NOT EXISTS tool_stats (
    id BIGSERIAL PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    request_id TEXT,
    model_name TEXT,
    tool_name TEXT NOT NULL,
    call_count BIGINT DEFAULT 1,
    avg_execution_time_ms BIGINT,
    error_count BIGINT DEFAULT 0,
    tool_arguments TEXT,
    created_at TIMESTAMPTZ DEFAULT now(),
    UNIQUE (session_id, request_id, tool_name)
);
CREATE INDEX IF NOT EXISTS idx_tool_stats_model ON tool_stats(model_name, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_tool_stats_session ON tool_stats(session_id);
CREATE INDEX IF NOT EXISTS idx_tool_stats_name ON tool_stats(tool_name, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_tool_stats_name_covering
    ON tool_stats(tool_name, call_count, error_count, avg_execution_time_ms);

CREATE TABLE IF NOT EXISTS tool_call_executions (
    id BIGSERIAL PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    request_id TEXT NOT NULL,
    tool_call_id TEXT NOT NULL,
    tool_name TEXT NOT NULL,
    tool_arguments TEXT,
    execution_time_ms BIGINT,
    input_size_bytes BIGINT,
    output_size_bytes BIGINT,
    success BOOLEAN,
    created_at TIMESTAMPTZ DEFAULT now(),
    UNIQUE (session_id, request_id, tool_call_id)
);
CREATE INDEX IF NOT EXISTS idx_tool_call_executions_session ON tool_call_executions(session_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_tool_call_executions_tool_name ON tool_call_executions(tool_name, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_tool_call_executions_request ON tool_call_executions(request_id);

CREATE TABLE IF NOT EXISTS stream_metrics (
    id BIGSERIAL PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    request_id TEXT NOT NULL,
    time_to_first_token_ms BIGINT NOT NULL,
    total_chunks BIGINT NOT NULL,
    streaming_duration_ms BIGINT NOT NULL,
    avg_chunk_latency_ms DOUBLE PRECISION,
    p50_chunk_latency_ms BIGINT,
    p95_chunk_latency_ms BIGINT,
    p99_chunk_latency_ms BIGINT,
    max_chunk_latency_ms BIGINT,
    min_chunk_latency_ms BIGINT,
    created_at TIMESTAMPTZ DEFAULT now(),
    UNIQUE (session_id, request_id)
);
CREATE INDEX IF NOT EXISTS idx_stream_metrics_session ON stream_metrics(session_id);
CREATE INDEX IF NOT EXISTS idx_stream_metrics_ttft ON stream_metrics(time_to_first_token_ms);
CREATE INDEX IF NOT EXISTS idx_stream_metrics_chunks ON stream_metrics(total_chunks DESC);
"""

_V2 = """
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS key_id TEXT;
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS key_name TEXT;
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS team TEXT;
CREATE INDEX IF NOT EXISTS idx_sessions_key ON sessions(key_id, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_sessions_team ON sessions(team, started_at DESC);
"""

_V3 = """
ALTER TABLE session_stats ADD COLUMN IF NOT EXISTS provider TEXT;
ALTER TABLE session_stats ADD COLUMN IF NOT EXISTS success BOOLEAN;
ALTER TABLE session_stats ADD COLUMN IF NOT EXISTS attempts TEXT;
ALTER TABLE session_stats ADD COLUMN IF NOT EXISTS status_code INTEGER;
ALTER TABLE session_stats ADD COLUMN IF NOT EXISTS duration_ms BIGINT;
"""

_V5 = """
CREATE INDEX IF NOT EXISTS idx_session_stats_created ON session_stats(created_at);
CREATE INDEX IF NOT EXISTS idx_stream_metrics_created ON stream_metrics(created_at, time_to_first_token_ms);
"""

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "session tables (SQLite schema v5 equivalent)", _V1),
    (2, "the gateway key and team of each session", _V2),
    (3, "per request: the provider that answered, success, the attempts given up before, status, duration", _V3),
    (4, "tool results merged into the calls they answer (stores that counted them twice)", PG_REPAIR_SQL),
    (5, "time-window reads (the UI's dashboard): requests and streams by created_at", _V5),
    (6, "rollups of requests, TTFT and sessions per model for the dashboard, kept by triggers", _V6),
)
"""(version, description, SQL) in order; append new versions, never edit applied ones."""

_LOCK_KEY = 0x4C554E41  # "LUNA": the advisory lock serialising migrations across replicas


async def migrate(conn: Any) -> list[int]:
    """Apply the missing migrations on `conn` (an asyncpg connection); return the versions applied."""
    applied: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
            "description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, description, sql in MIGRATIONS:
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, description) VALUES ($1, $2)", version, description
            )
            applied.append(version)
    return applied
