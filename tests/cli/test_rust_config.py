"""A Rust LunaRoute user's config, unchanged: the reference's full schema loads with `config check` (which lists
the keys whose meaning differs here) and `serve` runs on it, environment variables included."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from lunaroute.cli._main import cli

FULL = Path(__file__).parent.parent / "fixtures" / "rust" / "full-config.yaml"
KEYS = {"OPENAI_API_KEY": "sk-test-openai", "ANTHROPIC_API_KEY": "sk-test-anthropic", "PII_SECRET": "pii-secret"}
PG = "postgresql://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_config_check_accepts_the_full_rust_config_and_lists_the_differences(tmp_path: Path) -> None:
    env = {**KEYS, "HOME": str(tmp_path), "LUNAROUTE_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(cli, ["config", "check", str(FULL)], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"ok: {FULL}"
    assert lines[1] == "keys whose meaning differs from the Rust LunaRoute:"
    listed = {line.strip().split(":", 1)[0] for line in lines[2:]}
    for key in (
        "routing.rules",
        "session_recording.jsonl.retention",
        "session_recording.pii",
        "session_recording.worker",
        "providers.openai.response_body",
        "providers.openai.request_body",
        "providers.openai.http_client.pool_max_idle_per_host",
        "providers.openai.http_client.enable_pool_metrics",
        "ui.export_enabled",
    ):
        assert key in listed, key
    assert "host" not in listed


def test_config_check_names_a_missing_variable(tmp_path: Path) -> None:
    env = {"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k", "HOME": str(tmp_path)}
    result = CliRunner().invoke(cli, ["config", "check", str(FULL)], env={**env, "PII_SECRET": None})
    assert result.exit_code == 2
    assert "PII_SECRET" in result.output


def test_an_own_config_lists_no_differences(tmp_path: Path) -> None:
    path = tmp_path / "ours.yaml"
    path.write_text("port: 9000\nsession_recording:\n  enabled: false\n")
    result = CliRunner().invoke(cli, ["config", "check", str(path)], env={"HOME": str(tmp_path)})
    assert result.output == f"ok: {path}\n"


@pytest.fixture
def pg_schema() -> Iterator[str | None]:
    """A schema for the config's PostgreSQL store on the test server (None when it is not reachable)."""
    try:
        import asyncio

        import asyncpg  # type: ignore[import-untyped]

        async def probe() -> None:
            conn = await asyncpg.connect(PG, timeout=3)
            await conn.close()

        asyncio.run(probe())
    except (OSError, Exception):
        yield None
        return
    name = f"lr_rust_{uuid.uuid4().hex[:10]}"
    yield name

    async def drop() -> None:
        conn = await asyncpg.connect(PG, timeout=3)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(drop())


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def test_serve_runs_on_the_full_rust_config(tmp_path: Path, pg_schema: str | None) -> None:
    text = FULL.read_text()
    # The only edit: the reference's PostgreSQL store becomes the test server's, in a schema of this test.
    if pg_schema is not None:
        text = text.replace('"postgres://localhost/lunaroute"', f'"{PG}"\n    schema: {pg_schema}')
    else:
        text = text.replace("  postgres:                       #", "  postgres:\n    enabled: false  #", 1)
        text = text.replace("    enabled: true\n    connection_string", "    connection_string", 1)
    config = tmp_path / "config.yaml"
    config.write_text(text)
    port, ui_port = free_port(), free_port()
    env = {
        **os.environ,
        **KEYS,
        "HOME": str(tmp_path),
        "LUNAROUTE_HOME": str(tmp_path / ".lunaroute"),
        "LUNAROUTE_PORT": str(port),
        "LUNAROUTE_UI_PORT": str(ui_port),
        "LUNAROUTE_LOG_LEVEL": "info",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lunaroute", "serve", "--config", str(config)], env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if get(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"serve did not start:\n{log.read_text()}")
                time.sleep(0.1)
        status, body = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert b"lunaroute_upstream_pool_connections" in body  # enable_pool_metrics: true
        while True:
            try:
                status, _ = get(f"http://127.0.0.1:{ui_port}/api/sessions")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the UI did not start:\n{log.read_text()}")
                time.sleep(0.1)
        assert status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    output = log.read_text()
    assert code == 0, output
    assert "server-key mode" in output
    assert "OPENAI_API_KEY" in output
    assert "ANTHROPIC_API_KEY" in output
    assert (tmp_path / ".lunaroute" / "sessions.db").exists()
