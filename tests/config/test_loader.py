"""Config loading: formats, strictness, variable expansion, defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from lunaroute.config import config_from_mapping, load_config, resolve_config_path
from lunaroute.errors import ConfigError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_no_file_gives_zero_config_defaults() -> None:
    config = load_config(None)
    assert (config.host, config.port, config.api_dialect) == ("127.0.0.1", 8081, "both")
    assert config.providers["openai"].base_url == "https://api.openai.com/v1"
    assert config.providers["anthropic"].base_url == "https://api.anthropic.com"
    assert config.providers["openai"].api_key is None
    assert config.providers["anthropic"].api_key is None


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("c.yaml", "port: 9000\nproviders:\n  openai:\n    api_key: k\n"),
        ("c.toml", "port = 9000\n[providers.openai]\napi_key = 'k'\n"),
        ("c.json", '{"port": 9000, "providers": {"openai": {"api_key": "k"}}}'),
    ],
)
def test_formats_by_extension(tmp_path: Path, name: str, text: str) -> None:
    config = load_config(write(tmp_path, name, text))
    assert config.port == 9000
    assert config.providers["openai"].api_key == "k"
    # Built-in providers a file does not mention keep their defaults.
    assert config.providers["anthropic"].provider_type == "anthropic"


def test_unknown_key_names_file_and_path(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "http_server:\n  max_request_body_byte: 10\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert info.value.path == "$.http_server"
    assert "max_request_body_byte" in info.value.reason


def test_unwired_sections_are_rejected_like_unknown_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "c.yaml", "telemetry:\n  enabled: true\n"))
    assert "telemetry" in str(info.value)


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "c.yaml", "providers:\n  openai:\n    http_client:\n      timeout_secs: soon\n"))
    assert info.value.path == "$.providers.openai.http_client.timeout_secs"


def test_broken_file_never_falls_back_to_defaults(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "c.yaml", "port: [unclosed\n"))
    assert "not valid yaml" in str(info.value)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.yaml")


def test_env_expansion_and_unresolved_variable() -> None:
    raw = {"providers": {"openai": {"api_key": "${OPENAI_KEY}", "base_url": "http://${UP_HOST}:1/v1"}}}
    config = config_from_mapping(raw, env={"OPENAI_KEY": "sk-x", "UP_HOST": "127.0.0.1"})
    assert config.providers["openai"].api_key == "sk-x"
    assert config.providers["openai"].base_url == "http://127.0.0.1:1/v1"
    with pytest.raises(ConfigError) as info:
        config_from_mapping(raw, env={"UP_HOST": "h"})
    assert info.value.path == "$.providers.openai.api_key"
    assert "OPENAI_KEY" in info.value.reason


def test_header_templates_survive_loading_and_dollar_escape() -> None:
    raw = {
        "providers": {
            "openai": {"request_headers": {"X-Req": "${request_id}", "X-User": "${env.USER}", "X-Lit": "$${HOME}"}}
        }
    }
    headers = config_from_mapping(raw, env={}).providers["openai"].request_headers
    assert headers == {"X-Req": "${request_id}", "X-User": "${env.USER}", "X-Lit": "$${HOME}"}


def test_named_provider_needs_a_type_and_defaults_to_its_public_api() -> None:
    with pytest.raises(ConfigError, match="provider_type is required"):
        config_from_mapping({"providers": {"sonnet": {"api_key": "k"}}}, env={})
    # As in the Rust LunaRoute: an extra provider without base_url uses its type's public API.
    typed = {"gpt": {"provider_type": "openai"}, "sonnet": {"provider_type": "anthropic"}}
    providers = config_from_mapping({"providers": typed}, env={}).providers
    assert providers["gpt"].base_url == "https://api.openai.com/v1"
    assert providers["sonnet"].base_url == "https://api.anthropic.com"
    config = config_from_mapping(
        {"providers": {"local": {"provider_type": "openai", "base_url": "http://127.0.0.1:11434/v1/"}}}, env={}
    )
    assert config.providers["local"].base_url == "http://127.0.0.1:11434/v1"


@pytest.mark.parametrize(
    "url", ["ftp://x", "http://", "http://h/v1?x=1", "http://h/#f", "file:///etc/passwd", "http://h\r\nX: y"]
)
def test_bad_base_urls(url: str) -> None:
    with pytest.raises(ConfigError, match="base_url"):
        config_from_mapping({"providers": {"openai": {"base_url": url}}}, env={})


def test_mock_provider_defaults_and_mock_section_only_for_mock() -> None:
    config = config_from_mapping({"providers": {"m": {"provider_type": "mock"}}}, env={})
    assert config.providers["m"].mock is not None
    with pytest.raises(ConfigError, match="mock section"):
        config_from_mapping({"providers": {"openai": {"mock": {"latency_ms": 1}}}}, env={})


def test_cross_checks() -> None:
    with pytest.raises(ConfigError, match="not configured"):
        config_from_mapping({"bypass": {"provider": "nope"}}, env={})
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"port": 70000}, env={})
    assert info.value.path == "$.port"
    with pytest.raises(ConfigError, match="tcp_nodelay"):
        config_from_mapping({"http_server": {"tcp_nodelay": False}}, env={})
    with pytest.raises(ConfigError, match="header"):
        config_from_mapping({"providers": {"openai": {"request_headers": {"Bad Name": "v"}}}}, env={})


def test_resolve_config_path_order(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    assert resolve_config_path(None, {"LUNAROUTE_HOME": str(home)}) is None
    (home / "config.yaml").write_text("port: 1\n")
    assert resolve_config_path(None, {"LUNAROUTE_HOME": str(home)}) == home / "config.yaml"
    env = {"LUNAROUTE_HOME": str(home), "LUNAROUTE_CONFIG": str(tmp_path / "env.yaml")}
    assert resolve_config_path(None, env) == tmp_path / "env.yaml"
    assert resolve_config_path(str(tmp_path / "cli.yaml"), env) == tmp_path / "cli.yaml"


def test_empty_file_is_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "c.yaml", "")) == load_config(None)


def test_recording_can_be_required_only_when_every_exchange_is_recorded() -> None:
    assert config_from_mapping({"session_recording": {"required": True}}, env={}).session_recording.required
    for section in ({"enabled": False}, {"sample_rate": 0.5}):
        with pytest.raises(ConfigError) as info:
            config_from_mapping({"session_recording": {"required": True, **section}}, env={})
        assert info.value.path == "$.session_recording.required"


def test_the_unpriced_model_price_of_budgets() -> None:
    price = {"input_usd_per_mtok": 3.0, "output_usd_per_mtok": 15.0}
    fallback = config_from_mapping({"budgets": {"unpriced_model_price": price}}, env={}).budgets.unpriced_model_price
    assert fallback is not None
    assert (fallback.input_usd_per_mtok, fallback.output_usd_per_mtok) == (3.0, 15.0)
    assert config_from_mapping({}, env={}).budgets.unpriced_model_price is None
    with pytest.raises(ConfigError, match=r"unpriced_model_price\.output_usd_per_mtok"):
        config_from_mapping({"budgets": {"unpriced_model_price": price | {"output_usd_per_mtok": -1}}}, env={})
