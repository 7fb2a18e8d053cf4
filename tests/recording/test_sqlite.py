"""The SQLite writer: schema v5, PRAGMAs on the live connection, write rules, idempotent replay, migrations."""

from __future__ import annotations

import datetime as dt
import sqlite3
import stat
from pathlib import Path

import pytest
from tests.recording._builders import T0, request_events

from lunaroute.recording._sqlite_rollup import ROLLUP_VERSION
from lunaroute.recording._sqlite_schema import SchemaTooNew
from lunaroute.recording.events import (
    Completed,
    RequestRecorded,
    ResponseRecorded,
    SessionEvent,
    Started,
    StatsUpdated,
    TokenTotals,
    ToolCallRecorded,
)
from lunaroute.recording.sqlite import SqliteWriter

V5_TABLES = {"schema_version", "sessions", "session_stats", "tool_stats", "tool_call_executions", "stream_metrics"}
V5_INDEXES = {
    "idx_sessions_created",
    "idx_sessions_provider",
    "idx_sessions_model",
    "idx_sessions_request_id",
    "idx_sessions_provider_model",
    "idx_sessions_streaming",
    "idx_sessions_started_at",
    "idx_sessions_user_agent",
    "idx_session_stats_session",
    "idx_session_stats_model",
    "idx_session_stats_model_covering",
    "idx_session_stats_user_agent",
    "idx_session_stats_session_time",
    "idx_session_stats_created",
    "idx_tool_stats_model",
    "idx_tool_stats_session",
    "idx_tool_stats_name",
    "idx_tool_stats_name_covering",
    "idx_tool_stats_unique",
    "idx_tool_call_executions_unique",
    "idx_tool_call_executions_session",
    "idx_tool_call_executions_tool_name",
    "idx_tool_call_executions_request",
    "idx_stream_metrics_session",
    "idx_stream_metrics_ttft",
    "idx_stream_metrics_chunks",
    "idx_stream_metrics_created",
}

REPAIR_TABLES = {"lunaroute_repairs"}
"""The record of the one-time repairs made to a store (`_tool_repair`)."""
ROLLUP_TABLES = {
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
}
KEY_INDEXES = {"idx_sessions_key", "idx_sessions_team"}
"""Beyond v5 like the rollups: the gateway key and team of sessions (`_sqlite_schema.EXTRA_INDEXES`)."""
ROLLUP_INDEXES = {
    "idx_rollup_sessions_last",
    "idx_rollup_session_models_last",
    "idx_session_stats_session_model",
    "idx_stream_metrics_ttft_created",
}


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, without ids and creation times (which differ between runs)."""
    conn = sqlite3.connect(path)
    out = {}
    for table in sorted(V5_TABLES):
        cols = [r[1] for r in conn.execute(f"PRAGMA table_xinfo({table})") if r[1] not in ("id", "created_at")]
        out[table] = sorted(conn.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall(), key=repr)
    conn.close()
    return out


def objects(path: Path) -> tuple[set[str], set[str]]:
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall()
    conn.close()
    return {n for t, n in rows if t == "table"}, {n for t, n in rows if t == "index"}


async def test_fresh_database_is_schema_v5(tmp_path: Path) -> None:
    db = tmp_path / "lr" / "sessions.db"
    writer = await SqliteWriter.open(db)
    await writer.close()
    tables, indexes = objects(db)
    # The rollups and the record of one-time repairs are extra tables; the v5 ones are untouched.
    assert tables == V5_TABLES | ROLLUP_TABLES | REPAIR_TABLES
    assert indexes == V5_INDEXES | ROLLUP_INDEXES | KEY_INDEXES
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(5,)]
    assert conn.execute("SELECT version FROM rollup_version").fetchall() == [(ROLLUP_VERSION,)]
    generated = [r for r in conn.execute("PRAGMA table_xinfo(sessions)") if r[1] == "total_tokens"]
    assert generated[0][6] == 3  # hidden=3: a STORED generated column
    conn.close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize(("level", "expected"), [("normal", 1), ("full", 2)])
async def test_pragmas_on_the_live_connection(tmp_path: Path, level: str, expected: int) -> None:
    writer = await SqliteWriter.open(tmp_path / "s.db", synchronous=level, busy_timeout_ms=7000)  # type: ignore[arg-type]
    try:
        assert await writer.pragma("synchronous") == expected
        assert await writer.pragma("journal_mode") == "wal"
        assert await writer.pragma("busy_timeout") == 7000
        assert await writer.pragma("foreign_keys") == 1
    finally:
        await writer.close()


async def test_write_rules(tmp_path: Path) -> None:
    writer = await SqliteWriter.open(tmp_path / "s.db")
    r1 = request_events("sess", "r1", at=T0)
    r2 = request_events("sess", "r2", at=T0 + dt.timedelta(seconds=10), streaming=False, tools=2)
    await writer.write_batch(r1)
    await writer.write_batch(r2)
    row = (
        await writer.query(
            "SELECT request_id, provider, model_requested, model_used, request_text, success, finish_reason, "
            "input_tokens, output_tokens, thinking_tokens, total_tokens, time_to_first_token_ms, total_duration_ms "
            "FROM sessions WHERE session_id = ?",
            ("sess",),
        )
    )[0]
    # first request wins the started fields; later request_recorded overwrites the text
    assert row[:5] == ("r1", "anthropic", "claude-sonnet-4", "claude-sonnet-4-20250514", "hello from r2")
    assert row[5:7] == (1, "end_turn")
    assert row[7:11] == (10, 25, 5, 40)  # MAX of response (20) and stats_updated (25), never summed
    assert row[11] == 42
    assert row[12] == 10_500  # MAX(now - started_at, reported 500)
    stats = await writer.query(
        "SELECT request_id, model_name, input_tokens, output_tokens, response_size_bytes, has_tools "
        "FROM session_stats ORDER BY request_id"
    )
    assert stats == [
        ("r1", "claude-sonnet-4-20250514", 10, 25, 300, 1),
        ("r2", "claude-sonnet-4-20250514", 10, 25, 300, 1),
    ]
    tools = await writer.query(
        "SELECT request_id, tool_name, call_count, error_count FROM tool_stats ORDER BY request_id"
    )
    assert tools == [("r1", "Read", 1, 0), ("r2", "Read", 2, 1)]
    execs = await writer.query("SELECT request_id, tool_call_id, success, tool_arguments FROM tool_call_executions")
    assert len(execs) == 3
    assert ("r2", "toolu_r2_1", 0, '{"path": "/tmp/x"}') in execs
    metrics = await writer.query("SELECT request_id, time_to_first_token_ms, total_chunks FROM stream_metrics")
    assert metrics == [("r1", 42, 9)]
    await writer.close()


async def test_replaying_batches_changes_nothing(tmp_path: Path) -> None:
    once, twice = tmp_path / "once.db", tmp_path / "twice.db"
    batches = [request_events(f"s{i}", f"r{j}", tools=3) for i in range(3) for j in range(2)]
    w1 = await SqliteWriter.open(once)
    for b in batches:
        await w1.write_batch(b)
    await w1.close()
    w2 = await SqliteWriter.open(twice)
    for b in batches:
        await w2.write_batch(b)
    for b in batches:  # a spool replay after a crash between write and commit
        await w2.write_batch(b)
    await w2.close()
    assert dump(once) == dump(twice)


async def test_started_inserts_once_and_fills_a_placeholder(tmp_path: Path) -> None:
    writer = await SqliteWriter.open(tmp_path / "s.db")
    orphan = ToolCallRecorded(session_id="late", request_id="r1", timestamp=T0, tool_name="Bash", tool_call_id="t1")
    await writer.write_batch([orphan])  # no started yet: a placeholder parent keeps the foreign key
    started = Started(
        session_id="late", request_id="r1", timestamp=T0, model_requested="m", provider="openai", listener="openai"
    )
    second = Started(
        session_id="late", request_id="r2", timestamp=T0, model_requested="other", provider="x", listener="y"
    )
    await writer.write_batch([started, second])
    assert await writer.query("SELECT provider, listener, model_requested, request_id FROM sessions") == [
        ("openai", "openai", "m", "r1")
    ]
    await writer.close()


async def test_completed_outcome_and_stats_updated_tokens(tmp_path: Path) -> None:
    writer = await SqliteWriter.open(tmp_path / "s.db")
    start = Started(session_id="s", request_id="r", timestamp=T0, model_requested="m", provider="p", listener="l")
    done = Completed(
        session_id="s", request_id="r", timestamp=T0, success=False, outcome="client_disconnected", total_input=7
    )
    upd = StatsUpdated(
        session_id="s", request_id="r", timestamp=T0, token_updates=TokenTotals(total_input=3, total_cached=9)
    )
    await writer.write_batch([start, done, upd])
    assert await writer.query("SELECT success, error_message, input_tokens, cache_read_tokens FROM sessions") == [
        (0, "client_disconnected", 7, 9)
    ]
    await writer.close()


async def test_odd_content_is_stored(tmp_path: Path) -> None:
    writer = await SqliteWriter.open(tmp_path / "s.db", max_field_chars=1_000_000)
    start = Started(session_id="s", request_id="r", timestamp=T0, model_requested="m", provider="p", listener="l")
    req = RequestRecorded(session_id="s", request_id="r", timestamp=T0, request_text="a\x00b\ud800" + "z" * 10_000_000)
    resp = ResponseRecorded(session_id="s", request_id="r", timestamp=T0, response_text="ok", input_tokens=2**70)
    await writer.write_batch([start, req, resp])
    ((text, tokens),) = await writer.query("SELECT request_text, input_tokens FROM sessions")
    assert isinstance(text, str)
    assert text.startswith("a\x00b\\ud800zz")
    assert "truncated by lunaroute" in text
    assert tokens == 2**63 - 1
    await writer.close()


V1_SCHEMA = """
CREATE TABLE schema_version (version INTEGER PRIMARY KEY);
INSERT INTO schema_version VALUES (1);
CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY, request_id TEXT, started_at TIMESTAMP NOT NULL, completed_at TIMESTAMP,
    provider TEXT NOT NULL, listener TEXT NOT NULL, model_requested TEXT NOT NULL, model_used TEXT,
    success BOOLEAN, error_message TEXT, finish_reason TEXT, total_duration_ms INTEGER, provider_latency_ms INTEGER,
    input_tokens INTEGER DEFAULT 0, output_tokens INTEGER DEFAULT 0, thinking_tokens INTEGER DEFAULT 0,
    total_tokens INTEGER GENERATED ALWAYS AS (input_tokens + output_tokens + COALESCE(thinking_tokens, 0)) STORED,
    request_text TEXT, response_text TEXT, client_ip TEXT, user_agent TEXT, is_streaming BOOLEAN DEFAULT 0,
    time_to_first_token_ms INTEGER, chunk_count INTEGER, streaming_duration_ms INTEGER,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_sessions_created ON sessions(created_at DESC);
CREATE TABLE session_stats (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, request_id TEXT, model_name TEXT NOT NULL,
    pre_processing_ms REAL, post_processing_ms REAL, proxy_overhead_ms REAL,
    input_tokens INTEGER DEFAULT 0, output_tokens INTEGER DEFAULT 0, thinking_tokens INTEGER DEFAULT 0,
    tokens_per_second REAL, thinking_percentage REAL, request_size_bytes INTEGER, response_size_bytes INTEGER,
    message_count INTEGER, content_blocks INTEGER, has_tools BOOLEAN DEFAULT 0, has_refusal BOOLEAN DEFAULT 0,
    user_agent TEXT, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (session_id) REFERENCES sessions(session_id) ON DELETE CASCADE
);
CREATE TABLE tool_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, request_id TEXT, model_name TEXT,
    tool_name TEXT NOT NULL, call_count INTEGER DEFAULT 1, avg_execution_time_ms INTEGER,
    error_count INTEGER DEFAULT 0, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (session_id) REFERENCES sessions(session_id) ON DELETE CASCADE
);
CREATE INDEX idx_tool_calls_session ON tool_calls(session_id);
CREATE UNIQUE INDEX idx_tool_calls_unique ON tool_calls(session_id, request_id, tool_name);
INSERT INTO sessions (session_id, request_id, started_at, provider, listener, model_requested,
                      input_tokens, output_tokens, thinking_tokens)
VALUES ('old', 'r0', '2025-01-01T00:00:00+00:00', 'anthropic', 'anthropic', 'claude', 100, 50, 7);
INSERT INTO session_stats (session_id, request_id, model_name, input_tokens) VALUES ('old', 'r0', 'claude', 100);
INSERT INTO tool_calls (session_id, request_id, tool_name, call_count) VALUES ('old', 'r0', 'Read', 4);
INSERT INTO tool_calls (session_id, request_id, tool_name, call_count) VALUES ('old', 'r0', 'unknown', 2);
"""


async def test_migrates_a_v1_database_step_by_step(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.executescript(V1_SCHEMA)
    conn.close()
    writer = await SqliteWriter.open(db)
    assert writer.migrated_from == 1
    rows = await writer.query(
        "SELECT input_tokens, output_tokens, thinking_tokens, reasoning_tokens, total_tokens FROM sessions"
    )
    assert rows == [(100, 50, 7, 0, 157)]
    assert await writer.query("SELECT input_tokens FROM session_stats") == [(100,)]  # children survived the rebuild
    assert await writer.query("SELECT tool_name, call_count FROM tool_stats") == [("Read", 4)]
    await writer.write_batch(
        [ResponseRecorded(session_id="old", request_id="r1", timestamp=T0, input_tokens=1, cache_read_tokens=1000)]
    )
    assert await writer.query("SELECT total_tokens FROM sessions") == [
        (1001,)
    ]  # response overwrites: 1 input + 1000 cache read
    rollup = "SELECT model_name, requests, input_tokens FROM rollup_requests ORDER BY 1"
    raw = "SELECT model_name, COUNT(*), SUM(input_tokens) FROM session_stats GROUP BY 1 ORDER BY 1"
    assert await writer.query(rollup) == await writer.query(raw)  # backfilled, then kept by the triggers
    assert ("claude", 1, 100) in await writer.query(rollup)
    await writer.close()
    tables, indexes = objects(db)
    assert tables == V5_TABLES | ROLLUP_TABLES | REPAIR_TABLES
    assert indexes == V5_INDEXES | ROLLUP_INDEXES | KEY_INDEXES
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(5,)]
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


async def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    conn = sqlite3.connect(db)
    conn.executescript(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY); INSERT INTO schema_version VALUES (6);"
    )
    conn.close()
    with pytest.raises(SchemaTooNew):
        await SqliteWriter.open(db)


async def test_a_long_response_text_is_stored_whole(tmp_path: Path) -> None:
    long_ascii = "".join(f"line {i:07d}\n" for i in range(150_000))  # 1.8 million characters
    writer = await SqliteWriter.open(tmp_path / "s.db")
    start = Started(session_id="s", request_id="r", timestamp=T0, model_requested="m", provider="p", listener="l")
    resp = ResponseRecorded(session_id="s", request_id="r", timestamp=T0, response_text=long_ascii)
    await writer.write_batch([start, resp])
    assert await writer.query("SELECT response_text FROM sessions") == [(long_ascii,)]
    await writer.close()


@pytest.mark.parametrize("kind", ["ascii", "unicode"])
async def test_texts_are_cut_only_past_the_field_limit(tmp_path: Path, kind: str) -> None:
    limit = 1000
    letter = "a" if kind == "ascii" else "é"
    writer = await SqliteWriter.open(tmp_path / "s.db", max_field_chars=limit)
    events: list[SessionEvent] = []
    for sid, size in (("exact", limit), ("over", limit + 1)):
        events += [
            Started(session_id=sid, request_id="r", timestamp=T0, model_requested="m", provider="p", listener="l"),
            ResponseRecorded(session_id=sid, request_id="r", timestamp=T0, response_text=letter * size),
        ]
    await writer.write_batch(events)
    stored = dict(await writer.query("SELECT session_id, response_text FROM sessions"))
    assert stored["exact"] == letter * limit
    assert stored["over"].startswith(letter * limit)
    assert stored["over"][limit:] == "…[truncated by lunaroute: 1 of 1001 characters dropped]"
    await writer.close()
