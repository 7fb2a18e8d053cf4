"""The SQLite store's key columns: added to a v5 database that lacks them, written from `started` events."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec
from tests.recording._builders import request_events

from lunaroute.recording._sqlite_schema import SCHEMA_VERSION, V5_DDL, ensure_schema
from lunaroute.recording.events import Started
from lunaroute.recording.sqlite import SqliteWriter


def test_a_v5_database_without_key_columns_gains_them(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "rust.db", isolation_level=None)
    for ddl in V5_DDL:
        conn.execute(ddl)
    conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
    conn.execute(
        "INSERT INTO sessions (session_id, started_at, provider, listener, model_requested) "
        "VALUES ('old', '2026-01-01 00:00:00', 'anthropic', 'anthropic', 'claude')"
    )
    assert ensure_schema(conn) == SCHEMA_VERSION
    columns = {row[1] for row in conn.execute("PRAGMA table_info(sessions)")}
    assert {"key_id", "key_name", "team"} <= columns
    assert conn.execute("SELECT key_id, team FROM sessions WHERE session_id = 'old'").fetchone() == (None, None)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    ensure_schema(conn)  # idempotent
    conn.close()


async def test_started_events_write_key_and_team(tmp_path: Path) -> None:
    writer = await SqliteWriter.open(tmp_path / "sessions.db")
    try:
        events = request_events("sess-key", "r1")
        first = events[0]
        assert isinstance(first, Started)
        events[0] = msgspec.structs.replace(first, key_id="key_0123456789abcdef", key_name="ci", team="core")
        await writer.write_batch(events)
    finally:
        await writer.close()
    with sqlite3.connect(tmp_path / "sessions.db") as conn:
        row = conn.execute("SELECT key_id, key_name, team FROM sessions WHERE session_id = 'sess-key'").fetchone()
    assert row == ("key_0123456789abcdef", "ci", "core")
