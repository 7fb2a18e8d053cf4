"""`lunaroute ui`: the UI alone (no gateway), as a real process over PostgreSQL or a SQLite file."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from click.testing import CliRunner
from tests.cli.test_cli import free_port
from tests.recording.query._seed import Spec, now_utc, seed, session_events

from lunaroute.cli._main import cli
from lunaroute.recording.postgres import PostgresWriter


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def wait_for(url: str, proc: subprocess.Popen[str]) -> object:
    deadline = time.monotonic() + 20
    while True:
        try:
            return get_json(url)
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def serve_ui(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "LUNAROUTE_HOME": str(tmp_path / "home")}
    env.pop("LUNAROUTE_CONFIG", None)
    port = free_port()
    with (tmp_path / "ui.log").open("w") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "lunaroute", "ui", "--port", str(port), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
    return proc, f"http://127.0.0.1:{port}"


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_ui_serves_the_postgres_store_alone(tmp_path: Path, pg_dsn: str) -> None:
    writer = await PostgresWriter.open(pg_dsn)
    await writer.write_batch(session_events(Spec("sess-from-replica", now_utc())))
    await writer.close()
    proc, base = serve_ui(tmp_path, "--db", pg_dsn)
    try:
        page = wait_for(f"{base}/api/sessions", proc)
        assert isinstance(page, dict)
        assert [s["session_id"] for s in page["sessions"]] == ["sess-from-replica"]
        overview = get_json(f"{base}/api/stats/overview")
        assert isinstance(overview, dict)
        assert overview["requests"] == 2
    finally:
        code = stop(proc)
    assert code == 0, (tmp_path / "ui.log").read_text()
    assert "ui listening" in (tmp_path / "ui.log").read_text()
    assert pg_dsn not in (tmp_path / "ui.log").read_text()


async def test_ui_serves_a_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "copy.db"
    await seed(db, None, [Spec("sess-in-file", now_utc())])
    proc, base = serve_ui(tmp_path, "--db", str(db))
    try:
        page = wait_for(f"{base}/api/sessions", proc)
        assert isinstance(page, dict)
        assert [s["session_id"] for s in page["sessions"]] == ["sess-in-file"]
    finally:
        assert stop(proc) == 0


def test_ui_refuses_to_listen_beyond_loopback_without_a_token() -> None:
    result = CliRunner().invoke(cli, ["ui", "--host", "0.0.0.0", "--db", "postgresql://db.internal/lunaroute"])
    assert result.exit_code == 2
    assert "set ui.auth_token" in result.output


def test_ui_names_the_port_in_use(tmp_path: Path) -> None:
    env = {**os.environ, "LUNAROUTE_HOME": str(tmp_path / "home")}
    env.pop("LUNAROUTE_CONFIG", None)
    with socket.socket() as taken:  # a process of its own: the command sets up logging for its process
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "lunaroute", "ui", "--port", str(port), "--db", str(tmp_path / "none.db")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
