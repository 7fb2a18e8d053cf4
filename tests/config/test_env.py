"""The Rust LunaRoute's environment variables (`merge_env`): each overrides its key in the file."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from lunaroute.config import config_from_mapping, load_config, resolve_config_path, server_key_sources
from lunaroute.config._env import ENV_OVERRIDES
from lunaroute.errors import ConfigError
from lunaroute.testing import FakeUpstream, GatewayFactory

FILE = {
    "host": "127.0.0.1",
    "port": 9000,
    "providers": {"openai": {"http_client": {"timeout_secs": 30, "max_retries": 1}}},
    "session_recording": {"enabled": True, "jsonl": {"directory": "/from/file"}},
    "logging": {"level": "warn"},
}


@pytest.mark.parametrize(
    ("name", "text", "read"),
    [
        ("LUNAROUTE_DIALECT", "anthropic", lambda c: c.api_dialect),
        ("LUNAROUTE_HOST", "127.0.0.2", lambda c: c.host),
        ("LUNAROUTE_PORT", "9123", lambda c: c.port),
        ("LUNAROUTE_OPENAI_TIMEOUT_SECS", "45", lambda c: c.providers["openai"].http_client.timeout_secs),
        (
            "LUNAROUTE_ANTHROPIC_CONNECT_TIMEOUT_SECS",
            "3",
            lambda c: c.providers["anthropic"].http_client.connect_timeout_secs,
        ),
        ("LUNAROUTE_OPENAI_POOL_MAX_IDLE", "7", lambda c: c.providers["openai"].http_client.pool_max_idle_per_host),
        (
            "LUNAROUTE_ANTHROPIC_POOL_IDLE_TIMEOUT_SECS",
            "90",
            lambda c: c.providers["anthropic"].http_client.pool_idle_timeout_secs,
        ),
        ("LUNAROUTE_OPENAI_TCP_KEEPALIVE_SECS", "30", lambda c: c.providers["openai"].http_client.tcp_keepalive_secs),
        ("LUNAROUTE_OPENAI_MAX_RETRIES", "4", lambda c: c.providers["openai"].http_client.max_retries),
        (
            "LUNAROUTE_ANTHROPIC_ENABLE_POOL_METRICS",
            "off",
            lambda c: c.providers["anthropic"].http_client.enable_pool_metrics,
        ),
        ("LUNAROUTE_ENABLE_SESSION_RECORDING", "no", lambda c: c.session_recording.enabled),
        ("LUNAROUTE_SESSIONS_DIR", "/from/env", lambda c: c.session_recording.jsonl.directory),
        ("LUNAROUTE_ENABLE_JSONL_WRITER", "0", lambda c: c.session_recording.jsonl.enabled),
        ("LUNAROUTE_SESSIONS_DB_PATH", "/from/env.db", lambda c: c.session_recording.sqlite.path),
        ("LUNAROUTE_ENABLE_SQLITE_WRITER", "false", lambda c: c.session_recording.sqlite.enabled),
        ("LUNAROUTE_LOG_REQUESTS", "yes", lambda c: c.logging.log_requests),
        ("LUNAROUTE_LOG_SQL_QUERIES", "ON", lambda c: c.logging.log_sql_queries),
        ("LUNAROUTE_LOG_LEVEL", "debug", lambda c: c.logging.level),
        ("LUNAROUTE_UI_ENABLED", "0", lambda c: c.ui.enabled),
        ("LUNAROUTE_UI_HOST", "localhost", lambda c: c.ui.host),
        ("LUNAROUTE_UI_PORT", "9183", lambda c: c.ui.port),
        ("LUNAROUTE_UI_DATABASE", "postgresql://ui@db/sessions", lambda c: c.ui.database),
        ("LUNAROUTE_UI_LOG_REQUESTS", "1", lambda c: c.ui.log_requests),
        ("LUNAROUTE_UI_REFRESH_INTERVAL", "12", lambda c: c.ui.refresh_interval),
        ("LUNAROUTE_BYPASS_ENABLED", "false", lambda c: c.bypass.enabled),
        ("LUNAROUTE_BYPASS_PROVIDER", "anthropic", lambda c: c.bypass.provider),
    ],
)
def test_each_variable_wins_over_the_file(name: str, text: str, read: object) -> None:
    expected = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}
    want: object = expected.get(text.lower(), text)
    if name.endswith(("PORT", "RETRIES", "KEEPALIVE_SECS", "MAX_IDLE", "INTERVAL")):
        want = int(text)
    elif name.endswith("_SECS"):
        want = float(text)
    config = config_from_mapping(dict(FILE), env={name: text})
    assert read(config) == want  # type: ignore[operator]


def test_every_rust_variable_is_covered() -> None:
    rust = {"LUNAROUTE_DIALECT", "LUNAROUTE_HOST", "LUNAROUTE_PORT", "LUNAROUTE_ENABLE_SESSION_RECORDING"}
    rust |= {"LUNAROUTE_SESSIONS_DIR", "LUNAROUTE_ENABLE_JSONL_WRITER", "LUNAROUTE_SESSIONS_DB_PATH"}
    rust |= {"LUNAROUTE_ENABLE_SQLITE_WRITER", "LUNAROUTE_LOG_REQUESTS", "LUNAROUTE_LOG_SQL_QUERIES"}
    rust |= {"LUNAROUTE_LOG_LEVEL", "LUNAROUTE_UI_ENABLED", "LUNAROUTE_UI_HOST", "LUNAROUTE_UI_PORT"}
    rust |= {"LUNAROUTE_UI_LOG_REQUESTS", "LUNAROUTE_BYPASS_ENABLED", "LUNAROUTE_BYPASS_PROVIDER"}
    for provider in ("OPENAI", "ANTHROPIC"):
        for suffix in ("TIMEOUT_SECS", "CONNECT_TIMEOUT_SECS", "POOL_MAX_IDLE", "POOL_IDLE_TIMEOUT_SECS"):
            rust.add(f"LUNAROUTE_{provider}_{suffix}")
        for suffix in ("TCP_KEEPALIVE_SECS", "MAX_RETRIES", "ENABLE_POOL_METRICS"):
            rust.add(f"LUNAROUTE_{provider}_{suffix}")
    assert rust <= set(ENV_OVERRIDES)


def test_the_file_applies_where_no_variable_is_set() -> None:
    config = config_from_mapping(dict(FILE), env={})
    assert config.port == 9000
    assert config.session_recording.jsonl.directory == "/from/file"
    assert config.providers["openai"].http_client.max_retries == 1


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("LUNAROUTE_PORT", "eighty"),
        ("LUNAROUTE_UI_ENABLED", "maybe"),
        ("LUNAROUTE_OPENAI_TIMEOUT_SECS", "10s"),
        ("LUNAROUTE_DIALECT", "gemini"),
        ("LUNAROUTE_LOG_LEVEL", "loud"),
        ("LUNAROUTE_ENABLE_SESSION_RECORDING", ""),
    ],
)
def test_an_invalid_value_is_an_error_naming_the_variable(name: str, text: str) -> None:
    with pytest.raises(ConfigError, match=name):
        config_from_mapping({}, env={name: text})


def test_a_value_that_parses_is_still_validated() -> None:
    with pytest.raises(ConfigError, match=r"\$\.port"):
        config_from_mapping({}, env={"LUNAROUTE_PORT": "70000"})


def test_the_codex_user_agent_variable_sets_every_codex_providers_version() -> None:
    raw = {"providers": {"openai": {"codex_auth": {"enabled": True}}, "anthropic": {}}}
    config = config_from_mapping(raw, env={"LUNAROUTE_CODEX_UA_VERSION": "0.120.1"})
    codex = config.providers["openai"].codex_auth
    assert codex is not None
    assert codex.client_version == "0.120.1"
    assert config.providers["anthropic"].codex_auth is None


def test_provider_keys_from_the_environment_replace_the_files() -> None:
    raw = {"providers": {"openai": {"api_key": "from-file"}}}
    env = {"OPENAI_API_KEY": "sk-env", "ANTHROPIC_API_KEY": "sk-ant"}
    config = config_from_mapping(raw, env=env)
    assert config.providers["openai"].api_key == "sk-env"
    assert config.providers["anthropic"].api_key == "sk-ant"
    assert server_key_sources(env) == [("OPENAI_API_KEY", "openai"), ("ANTHROPIC_API_KEY", "anthropic")]
    assert config_from_mapping({}, env={"OPENAI_API_KEY": ""}).providers["openai"].api_key is None


async def test_server_key_mode_replaces_the_clients_key(make_gateway: GatewayFactory, upstream: FakeUpstream) -> None:
    gw = await make_gateway(env={"OPENAI_API_KEY": "sk-server"})
    body = {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": "Bearer sk-client"}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gw.url}/v1/chat/completions", json=body, headers=headers) as response:
            assert response.status == 200
    assert upstream.last_request.header("authorization") == "Bearer sk-server"


def test_load_config_applies_the_variables_over_a_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("port: 9000\n")
    assert load_config(path, env={"LUNAROUTE_PORT": "9001"}).port == 9001
    assert load_config(None, env={"LUNAROUTE_PORT": "9002"}).port == 9002


def test_bootstrap_file_names_the_config(tmp_path: Path) -> None:
    config = tmp_path / "real.yaml"
    config.write_text("port: 9100\n")
    boot = tmp_path / "bootstrap.yaml"
    boot.write_text(f"source: file\nfile_path: {config}\n")
    env = {"LUNAROUTE_BOOTSTRAP": str(boot), "LUNAROUTE_HOME": str(tmp_path / "home")}
    assert resolve_config_path(None, env) == config
    # The default bootstrap file under LUNAROUTE_HOME is read too; --config and LUNAROUTE_CONFIG come first.
    assert resolve_config_path(None, {"LUNAROUTE_HOME": str(tmp_path)}) == config
    assert resolve_config_path("other.yaml", env) == Path("other.yaml")


def test_a_database_bootstrap_needs_a_postgres_url_and_a_tenant_uuid(tmp_path: Path) -> None:
    boot = tmp_path / "bootstrap.yaml"
    env = {"LUNAROUTE_BOOTSTRAP": str(boot), "LUNAROUTE_HOME": str(tmp_path / "h")}
    boot.write_text("source: database\ndatabase_url: postgres://x/y\ntenant_id: not-a-uuid\n")
    with pytest.raises(ConfigError, match=r"tenant_id.*UUID"):
        resolve_config_path(None, env)
    boot.write_text("source: database\ndatabase_url: mysql://x/y\ntenant_id: 4f0c7b1e-0000-4000-8000-000000000001\n")
    with pytest.raises(ConfigError, match="database_url"):
        resolve_config_path(None, env)
