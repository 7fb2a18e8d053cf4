"""The command line: config check/show in process; env and stop with real processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from lunaroute.cli._main import cli


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_config_check_ok_and_invalid(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("port: 9000\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["config", "check", str(good)])
    assert result.exit_code == 0
    assert "ok" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[http_server]\nmax_request_body_bytes = 'big'\n")
    result = runner.invoke(cli, ["config", "check", str(bad)])
    assert result.exit_code == 2
    assert str(bad) in result.output
    assert "$.http_server.max_request_body_bytes" in result.output


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("providers:\n  anthropic:\n    api_key: sk-ant-supersecretvalue\n")
    result = CliRunner().invoke(cli, ["config", "show", "--config", str(path)])
    assert result.exit_code == 0
    assert "supersecretvalue" not in result.output
    assert "sk-a…(23 chars)" in result.output
    assert "base_url: https://api.anthropic.com" in result.output


def test_serve_refuses_a_broken_config(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("telemetry:\n  enabled: true\n")
    result = CliRunner().invoke(cli, ["serve", "--config", str(path)])
    assert result.exit_code == 2
    assert "unknown field `telemetry`" in result.output


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["LUNAROUTE_HOME"] = str(tmp_path / "home")
    env.pop("LUNAROUTE_CONFIG", None)
    return env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lunaroute", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_env_starts_once_then_stop_ends_it(home: dict[str, str]) -> None:
    port = str(free_port())
    first = run_cli(home, "env", "--port", port)
    try:
        assert first.returncode == 0, first.stderr
        assert first.stdout.splitlines() == [
            f"export ANTHROPIC_BASE_URL=http://127.0.0.1:{port}",
            f"export OPENAI_BASE_URL=http://127.0.0.1:{port}/v1",
        ]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
        pid_file = Path(home["LUNAROUTE_HOME"]) / "run" / f"lunaroute-127.0.0.1-{port}.pid"
        pid = int(pid_file.read_text())
        assert oct(pid_file.stat().st_mode & 0o777) == "0o600"
        # A second `env` reuses the running gateway.
        second = run_cli(home, "env", "--port", port)
        assert second.returncode == 0
        assert int(pid_file.read_text()) == pid
    finally:
        stopped = run_cli(home, "stop", "--port", port)
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped" in stopped.stdout
    assert not pid_file.exists()
    assert not Path(f"/proc/{pid}").exists() or b"lunaroute" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    again = run_cli(home, "stop", "--port", port)
    assert again.returncode == 1


def test_stop_ignores_a_stale_pid_of_another_process(home: dict[str, str]) -> None:
    port = free_port()
    run_dir = Path(home["LUNAROUTE_HOME"]) / "run"
    run_dir.mkdir(parents=True)
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        (run_dir / f"lunaroute-127.0.0.1-{port}.pid").write_text(f"{sleeper.pid}\n")
        result = run_cli(home, "stop", "--port", str(port))
        assert result.returncode == 0
        assert "not running" in result.stdout
        assert sleeper.poll() is None  # never killed by mistake
    finally:
        sleeper.kill()
        sleeper.wait()


def test_route_dry_run(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "providers:\n  local: {provider_type: openai, base_url: 'http://127.0.0.1:9/v1', model: qwen}\n"
        "routing:\n  rules:\n    - {name: claude-local, model_pattern: '^claude-', primary: local, fallbacks: [anthropic]}\n"
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["route", "--config", str(path), "--model", "claude-sonnet-4-6", "--json"])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decision["rule"] == "claude-local"
    assert [(s["provider"], s["translated"], s["model_sent"]) for s in decision["chain"]] == [
        ("local", True, "qwen"),
        ("anthropic", False, "claude-sonnet-4-6"),
    ]
    assert [s["base_url"] for s in decision["chain"]] == ["http://127.0.0.1:9/v1", "https://api.anthropic.com"]
    result = runner.invoke(cli, ["route", "--config", str(path), "--model", "gpt-4o", "--dialect", "openai"])
    assert "default" in result.output
    assert "openai (openai, passthrough" in result.output
    assert "-> https://api.openai.com/v1" in result.output
    result = runner.invoke(cli, ["route", "--config", str(path), "--model", "m", "--header", "x-lunaroute-provider=zz"])
    assert result.exit_code == 1


def wait_for_health(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the gateway exited during start-up"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"no gateway answered on port {port}")


def test_a_second_serve_on_the_same_port_fails_at_once_naming_the_running_gateway(home: dict[str, str]) -> None:
    port = free_port()
    first = subprocess.Popen(
        [sys.executable, "-m", "lunaroute", "serve", "--port", str(port)],
        env=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_health(port, first)
        started = time.monotonic()
        second = run_cli(home, "serve", "--port", str(port))
        elapsed = time.monotonic() - started
    finally:
        first.terminate()
        first.wait(timeout=40)
    assert second.returncode == 1
    assert elapsed < 10  # the interpreter's start-up included (slow on a loaded machine); the bind fails at once
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, second.stderr
    assert f"port {port}" in lines[0]
    assert f"a running gateway (pid {first.pid})" in lines[0]
    assert "Traceback" not in second.stderr


def test_a_second_serve_on_another_port_with_the_same_home_fails_at_once(home: dict[str, str]) -> None:
    """Two gateways cannot share one journal: the second names the first instead of waiting for it to stop."""
    port, other = free_port(), free_port()
    first = subprocess.Popen(
        [sys.executable, "-m", "lunaroute", "serve", "--port", str(port)],
        env=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_health(port, first)
        started = time.monotonic()
        second = run_cli(home, "serve", "--port", str(other))
        elapsed = time.monotonic() - started
    finally:
        first.terminate()
        first.wait(timeout=40)
    assert second.returncode != 0
    assert elapsed < 15  # not the 60 s a stopping gateway's recorder is waited for
    assert f"pid {first.pid}, serving on port {port}" in second.stderr
    assert "Traceback" not in second.stderr


def test_env_returns_as_soon_as_its_gateway_dies_and_leaves_nothing_behind(home: dict[str, str]) -> None:
    with socket.socket() as squatter:  # listens, never answers: the port is taken by another program
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        port = squatter.getsockname()[1]
        started = time.monotonic()
        result = run_cli(home, "env", "--port", str(port))
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert elapsed < 10  # two interpreter start-ups, not the 15 s start-up allowance
    assert "exited with status 1" in result.stderr
    assert f"port {port}" in result.stderr  # the gateway's own one-line reason, from its log
    assert not (Path(home["LUNAROUTE_HOME"]) / "run" / f"lunaroute-127.0.0.1-{port}.pid").exists()
    assert result.stdout == ""


def test_env_says_when_the_gateway_runs_an_older_config_and_restarts_it(home: dict[str, str], tmp_path: Path) -> None:
    port = str(free_port())
    config = tmp_path / "config.yaml"
    config.write_text("logging:\n  level: warn\n")
    pid_file = Path(home["LUNAROUTE_HOME"]) / "run" / f"lunaroute-127.0.0.1-{port}.pid"
    first = run_cli(home, "env", "--port", port, "--config", str(config))
    try:
        assert first.returncode == 0, first.stderr
        assert 'model_provider = "lunaroute"' in first.stderr
        assert f'base_url = "http://127.0.0.1:{port}/v1"' in first.stderr
        assert 'wire_api = "responses"' in first.stderr
        assert all(line.startswith("export ") for line in first.stdout.splitlines())
        old_pid = int(pid_file.read_text())
        unchanged = run_cli(home, "env", "--port", port, "--config", str(config))
        assert "--restart" not in unchanged.stderr
        later = time.time() + 5
        os.utime(config, (later, later))
        stale = run_cli(home, "env", "--port", port, "--config", str(config))
        assert stale.returncode == 0
        assert f"(pid {old_pid}) started before {config} changed" in stale.stderr
        assert "lunaroute env --restart" in stale.stderr
        assert int(pid_file.read_text()) == old_pid
        restarted = run_cli(home, "env", "--port", port, "--config", str(config), "--restart")
        assert restarted.returncode == 0, restarted.stderr
        assert int(pid_file.read_text()) != old_pid
        assert (
            not Path(f"/proc/{old_pid}").exists() or b"lunaroute" not in Path(f"/proc/{old_pid}/cmdline").read_bytes()
        )
    finally:
        stopped = run_cli(home, "stop", "--port", port)
    assert stopped.returncode == 0, stopped.stderr


def test_config_check_hints_at_the_key_meant_and_warns_of_v1_on_anthropic(tmp_path: Path) -> None:
    runner = CliRunner()
    typo = tmp_path / "typo.yaml"
    typo.write_text("routing:\n  rules:\n    - {name: a, primary: anthropic, fallback: [openai]}\n")
    result = runner.invoke(cli, ["config", "check", str(typo)])
    assert result.exit_code == 2
    assert (
        "at $.routing.rules[0]: Object contains unknown field `fallback` (did you mean `fallbacks`?)" in result.output
    )
    key = tmp_path / "key.yaml"
    key.write_text("providers:\n  anthropic: {api_kye: x}\n")
    assert "(did you mean `api_key`?)" in runner.invoke(cli, ["config", "check", str(key)]).output
    v1 = tmp_path / "v1.yaml"
    v1.write_text("providers:\n  anthropic: {base_url: 'https://api.anthropic.com/v1'}\n")
    result = runner.invoke(cli, ["config", "check", str(v1)])
    assert result.exit_code == 0
    assert (
        f"warning: {v1}, at $.providers.anthropic.base_url: https://api.anthropic.com/v1 ends in /v1" in result.stderr
    )
    assert "https://api.anthropic.com/v1/v1/messages" in result.stderr
    assert result.stdout == f"ok: {v1}\n"


def test_serve_warns_of_v1_on_an_anthropic_provider_at_start(home: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "v1.yaml"
    config.write_text("logging: {format: text}\nproviders:\n  anthropic: {base_url: 'https://api.anthropic.com/v1'}\n")
    port = free_port()
    gateway = subprocess.Popen(
        [sys.executable, "-m", "lunaroute", "serve", "--port", str(port), "--config", str(config)],
        env=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_health(port, gateway)
    finally:
        gateway.terminate()
        _, err = gateway.communicate(timeout=40)
    assert b"config: $.providers.anthropic.base_url: https://api.anthropic.com/v1 ends in /v1" in err
