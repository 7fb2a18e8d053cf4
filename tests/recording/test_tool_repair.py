"""Stores written when a tool result was a second row of its call are repaired once, in SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg

from lunaroute.recording._pg_schema import MIGRATIONS, migrate
from lunaroute.recording.sqlite import SqliteWriter

# As the earlier rules wrote one weather call (made by r1's answer, its failed result sent with r2) and one map
# call of r2 whose result never came: the result got a row of its own under r2 and counted a second call there.
SESSION = ("s1", "2026-11-01T10:00:00+00:00", "anthropic", "anthropic", "claude-x")
EXECUTIONS = [
    ("s1", "r1", "call-1", "get_weather", None, None, None),
    ("s1", "r2", "call-1", "get_weather", 1200, 40, False),
    ("s1", "r2", "call-2", "get_map", None, None, None),
]
TOOL_STATS = [
    ("s1", "r1", "get_weather", 1, 0, None),
    ("s1", "r2", "get_weather", 1, 1, 1200),
    ("s1", "r2", "get_map", 1, 0, None),
]
REPAIRED_EXECUTIONS = [("r1", "call-1", "get_weather", 1200, 40, 0), ("r2", "call-2", "get_map", None, None, None)]
REPAIRED_STATS = [("r1", "get_weather", 1, 1, 1200), ("r2", "get_map", 1, 0, None)]


def seed_sqlite(db: Path) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DELETE FROM lunaroute_repairs")  # written before the repair existed
    conn.execute(
        "INSERT INTO sessions (session_id, started_at, provider, listener, model_requested) VALUES (?, ?, ?, ?, ?)",
        SESSION,
    )
    conn.executemany(
        "INSERT INTO tool_call_executions (session_id, request_id, tool_call_id, tool_name, execution_time_ms, "
        "output_size_bytes, success) VALUES (?, ?, ?, ?, ?, ?, ?)",
        EXECUTIONS,
    )
    conn.executemany(
        "INSERT INTO tool_stats (session_id, request_id, tool_name, call_count, error_count, avg_execution_time_ms) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        TOOL_STATS,
    )
    conn.close()


async def test_sqlite_store_is_repaired_once(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    await (await SqliteWriter.open(db)).close()
    seed_sqlite(db)
    writer = await SqliteWriter.open(db)
    try:
        executions = await writer.query(
            "SELECT request_id, tool_call_id, tool_name, execution_time_ms, output_size_bytes, success "
            "FROM tool_call_executions ORDER BY id"
        )
        assert executions == REPAIRED_EXECUTIONS
        stats = await writer.query(
            "SELECT request_id, tool_name, call_count, error_count, avg_execution_time_ms FROM tool_stats "
            "ORDER BY request_id, tool_name"
        )
        assert stats == REPAIRED_STATS
        rollup = await writer.query("SELECT tool_name, calls, errors FROM rollup_tools ORDER BY tool_name")
        assert rollup == [("get_map", 1, 0), ("get_weather", 1, 1)]
        assert await writer.query("SELECT name, merged_rows FROM lunaroute_repairs") == [("split-tool-calls", 1)]
    finally:
        await writer.close()
    # Done once: rows written later the old way (by a Rust tool, say) are left as they are.
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(
        "INSERT INTO tool_call_executions (session_id, request_id, tool_call_id, tool_name) VALUES "
        "('s1', 'r3', 'call-2', 'get_map')"
    )
    conn.close()
    writer = await SqliteWriter.open(db)
    try:
        assert len(await writer.query("SELECT id FROM tool_call_executions")) == 3
    finally:
        await writer.close()


async def test_postgres_store_is_repaired_by_its_migration(pg_dsn: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        for version, _, sql in MIGRATIONS[:3]:
            await conn.execute(sql)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            await conn.execute("INSERT INTO schema_migrations (version, description) VALUES ($1, 'x')", version)
        await conn.execute(
            "INSERT INTO sessions (session_id, started_at, provider, listener, model_requested) "
            "VALUES ($1, $2::text::timestamptz, $3, $4, $5)",
            *SESSION,
        )
        await conn.executemany(
            "INSERT INTO tool_call_executions (session_id, request_id, tool_call_id, tool_name, execution_time_ms, "
            "output_size_bytes, success) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            EXECUTIONS,
        )
        await conn.executemany(
            "INSERT INTO tool_stats (session_id, request_id, tool_name, call_count, error_count, "
            "avg_execution_time_ms) VALUES ($1, $2, $3, $4, $5, $6)",
            TOOL_STATS,
        )
        assert await migrate(conn) == [4, 5, 6]
        executions = await conn.fetch(
            "SELECT request_id, tool_call_id, tool_name, execution_time_ms, output_size_bytes, success::int "
            "FROM tool_call_executions ORDER BY id"
        )
        assert [tuple(r) for r in executions] == REPAIRED_EXECUTIONS
        stats = await conn.fetch(
            "SELECT request_id, tool_name, call_count, error_count, avg_execution_time_ms FROM tool_stats "
            "ORDER BY request_id, tool_name"
        )
        assert [tuple(r) for r in stats] == REPAIRED_STATS
        assert await migrate(conn) == []
    finally:
        await conn.close()
