"""A Rust LunaRoute's `sessions.db` (schema v5) and `sessions/YYYY-MM-DD/<id>.jsonl` tree keep working: the gateway
appends to them, the UI and `sessions` commands read them, `import-sessions` fills a new database from them."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from lunaroute.cli._main import cli
from lunaroute.config import config_from_mapping
from lunaroute.recording._sqlite_schema import V5_DDL
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import GatewayFactory
from lunaroute.ui import build_ui_app

RUST_SESSIONS = Path(__file__).parent.parent / "fixtures" / "rust" / "sessions"
RUST_FILE = "2026-01-02/rust-sess-1.jsonl"


@pytest.fixture
def rust_home(tmp_path: Path) -> Path:
    """`~/.lunaroute` as the Rust gateway leaves it after one session (rows written as its SQLite writer does)."""
    home = tmp_path / ".lunaroute"
    shutil.copytree(RUST_SESSIONS, home / "sessions")
    conn = sqlite3.connect(home / "sessions.db", isolation_level=None)
    for ddl in V5_DDL:
        conn.execute(ddl)
    conn.execute("INSERT INTO schema_version (version) VALUES (5)")
    conn.execute(
        "INSERT INTO sessions (session_id, request_id, started_at, completed_at, provider, listener, "
        "model_requested, model_used, success, finish_reason, total_duration_ms, provider_latency_ms, input_tokens, "
        "output_tokens, request_text, user_agent, is_streaming) VALUES ('rust-sess-1', 'rust-req-1', "
        "'2026-01-02 03:04:05', '2026-01-02 03:04:07', 'anthropic', 'anthropic', 'claude-sonnet-4-20250514', "
        "'claude-sonnet-4-20250514', 1, 'end_turn', 2076, 2050, 12, 40, 'what is a monad?', 'claude-cli/1.0.0', 0)"
    )
    conn.execute(
        "INSERT INTO session_stats (session_id, request_id, model_name, pre_processing_ms, proxy_overhead_ms, "
        "input_tokens, output_tokens, request_size_bytes, response_size_bytes, message_count, user_agent, "
        "created_at) VALUES ('rust-sess-1', 'rust-req-1', 'claude-sonnet-4-20250514', 0.4, 26.0, 12, 40, 112, "
        "420, 1, 'claude-cli/1.0.0', '2026-01-02 03:04:07')"
    )
    conn.close()
    return home


def recording(home: Path) -> dict[str, object]:
    # The fixture session is from January: the default retention (30 days) would delete it at start.
    retention = {"max_age_days": None, "max_total_size_gb": None, "compress_after_days": None}
    return {
        "jsonl": {"directory": str(home / "sessions"), "retention": retention},
        "sqlite": {"path": str(home / "sessions.db")},
        "journal_directory": str(home / "journal"),
    }


async def test_the_gateway_appends_to_a_rust_store(make_gateway: GatewayFactory, rust_home: Path) -> None:
    before = (rust_home / "sessions" / RUST_FILE).read_bytes()
    gateway = await make_gateway(session_recording=recording(rust_home))
    body = {
        "model": "claude-x",
        "max_tokens": 50,
        "metadata": {"user_id": json.dumps({"session_id": "new-sess"})},
        "messages": [{"role": "user", "content": "hi"}],
    }
    async with aiohttp.ClientSession() as client, client.post(f"{gateway.url}/v1/messages", json=body) as response:
        assert response.status == 200
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()
    conn = sqlite3.connect(rust_home / "sessions.db")
    rows = dict(conn.execute("SELECT session_id, input_tokens FROM sessions").fetchall())
    conn.close()
    assert rows["rust-sess-1"] == 12
    assert "new-sess" in rows
    assert (rust_home / "sessions" / RUST_FILE).read_bytes() == before
    assert list((rust_home / "sessions").rglob("new-sess.jsonl"))


async def test_the_ui_reads_a_rust_store(rust_home: Path) -> None:
    config = config_from_mapping({"session_recording": recording(rust_home)}, env={})
    async with TestClient(TestServer(build_ui_app(config))) as client:
        listed = await (await client.get("/api/sessions")).json()
        assert "rust-sess-1" in json.dumps(listed)
        raw = await client.get("/api/sessions/rust-sess-1/raw/rust-req-1")
        assert raw.status == 200
        assert (await raw.json())["request"]["messages"][0]["content"] == "what is a monad?"


def test_sessions_commands_read_a_rust_store(rust_home: Path) -> None:
    runner = CliRunner()
    env = {"LUNAROUTE_HOME": str(rust_home)}
    listed = runner.invoke(cli, ["sessions", "list", "--db", str(rust_home / "sessions.db")], env=env)
    assert listed.exit_code == 0, listed.output
    assert "rust-sess-1" in listed.output
    shown = runner.invoke(cli, ["sessions", "show", "rust-sess-1"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "claude-sonnet-4-20250514" in shown.output


def test_import_sessions_fills_a_new_database_from_a_rust_tree(rust_home: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "imported.db"
    result = CliRunner().invoke(
        cli, ["import-sessions", "--sessions-dir", str(rust_home / "sessions"), "--db-path", str(fresh)]
    )
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(fresh)
    row = conn.execute(
        "SELECT provider, model_requested, input_tokens, output_tokens, finish_reason FROM sessions "
        "WHERE session_id = 'rust-sess-1'"
    ).fetchone()
    conn.close()
    assert row == ("anthropic", "claude-sonnet-4-20250514", 12, 40, "end_turn")
