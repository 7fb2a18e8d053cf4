"""The OpenAI wire provider types and the `responses` store section."""

from __future__ import annotations

import pytest

from lunaroute.config import config_from_mapping
from lunaroute.errors import ConfigError
from lunaroute.providers import HttpProvider


@pytest.mark.parametrize("ptype", ["openai_chat", "openai_responses"])
def test_openai_wire_types_default_to_the_public_api_and_speak_openai(ptype: str) -> None:
    config = config_from_mapping({"providers": {"up": {"provider_type": ptype}}}, env={})
    pconf = config.providers["up"]
    assert pconf.base_url == "https://api.openai.com/v1"
    provider = HttpProvider("up", pconf)
    assert provider.dialect == "openai"
    assert provider.wire == ptype


def test_codex_auth_for_a_responses_provider_but_no_chat_body_edits() -> None:
    codex = {"provider_type": "openai_responses", "codex_auth": {"enabled": True}}
    assert config_from_mapping({"providers": {"chatgpt": codex}}, env={}).providers["chatgpt"].codex_auth is not None
    edits = {"provider_type": "openai_responses", "request_body": {"defaults": {"temperature": 0}}}
    with pytest.raises(ConfigError, match="request_body"):
        config_from_mapping({"providers": {"codex": edits}}, env={})
    chat = {"provider_type": "openai_chat", "request_body": {"defaults": {"temperature": 0}}}
    assert config_from_mapping({"providers": {"vllm": chat}}, env={}).providers["vllm"].request_body is not None


def test_responses_store_defaults_under_home_or_a_postgres_url() -> None:
    config = config_from_mapping({}, env={"LUNAROUTE_HOME": "/srv/lr"})
    assert config.responses.store is True
    assert config.responses.database == "/srv/lr/responses.db"
    url = "postgresql://postgres@127.0.0.1:5432/test"
    assert config_from_mapping({"responses": {"database": url}}, env={}).responses.database == url
    with pytest.raises(ConfigError):
        config_from_mapping({"responses": {"keep": True}}, env={})
