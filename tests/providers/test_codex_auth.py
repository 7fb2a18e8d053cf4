"""`codex_auth`: the token of a generated Codex `auth.json` goes upstream, re-read when the file changes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from lunaroute.config import config_from_mapping
from lunaroute.errors import ConfigError
from lunaroute.testing import FakeUpstream, GatewayFactory, GatewayServer

BODY = {"model": "gpt-5-codex", "messages": [{"role": "user", "content": "hi"}]}


def write_auth(path: Path, token: str, mtime: int) -> None:
    auth = {"OPENAI_API_KEY": None, "tokens": {"access_token": token, "account_id": "acct-file"}}
    path.write_text(json.dumps(auth))
    os.utime(path, (mtime, mtime))


async def post(gw: GatewayServer, headers: dict[str, str]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gw.url}/v1/chat/completions", json=BODY, headers=headers) as response:
            return response.status, await response.text()


def codex(auth: Path, **extra: Any) -> dict[str, Any]:
    return {"providers": {"openai": {"codex_auth": {"enabled": True, "auth_file": str(auth), **extra}}}}


async def test_the_token_replaces_the_clients_and_follows_the_file(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    auth = tmp_path / "auth.json"
    write_auth(auth, "tok-1", 1_700_000_000)
    gw = await make_gateway(**codex(auth))
    client = {"Authorization": "Bearer client-key", "chatgpt-account-id": "acct-client"}
    assert (await post(gw, client))[0] == 200
    assert upstream.last_request.header("authorization") == "Bearer tok-1"
    assert upstream.last_request.header("chatgpt-account-id") == "acct-client"
    write_auth(auth, "tok-2", 1_700_000_100)  # Codex refreshed its token
    assert (await post(gw, client))[0] == 200
    assert upstream.last_request.header("authorization") == "Bearer tok-2"


async def test_account_id_overrides_the_clients(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    auth = tmp_path / "auth.json"
    write_auth(auth, "tok-1", 1_700_000_000)
    gw = await make_gateway(**codex(auth, account_id="acct-config"))
    assert (await post(gw, {"chatgpt-account-id": "acct-client"}))[0] == 200
    assert upstream.last_request.header("chatgpt-account-id") == "acct-config"


async def test_token_field_picks_another_key(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"creds": {"oauth": {"token": "nested-tok"}}}))
    gw = await make_gateway(**codex(auth, token_field="creds.oauth.token"))
    assert (await post(gw, {}))[0] == 200
    assert upstream.last_request.header("authorization") == "Bearer nested-tok"


async def test_a_missing_token_is_a_gateway_error_not_a_forward(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"tokens": {}}))
    gw = await make_gateway(**codex(auth))
    status, text = await post(gw, {"Authorization": "Bearer client-key"})
    assert status == 502
    assert "tokens.access_token" in text
    assert upstream.requests == []


def test_codex_auth_on_an_anthropic_provider_is_refused(tmp_path: Path) -> None:
    raw = {"providers": {"anthropic": {"codex_auth": {"enabled": True}}}}
    with pytest.raises(ConfigError, match=r"anthropic\.codex_auth"):
        config_from_mapping(raw, env={})
    off = {"providers": {"anthropic": {"codex_auth": {"enabled": False}}}}
    assert config_from_mapping(off, env={}).providers["anthropic"].codex_auth is not None


async def test_the_codex_identity_goes_upstream_and_a_real_codex_agent_is_kept(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    auth = tmp_path / "auth.json"
    write_auth(auth, "tok-1", 1_700_000_000)
    gw = await make_gateway(env={"LUNAROUTE_CODEX_UA_VERSION": "9.9.9"}, **codex(auth))
    assert (await post(gw, {"User-Agent": "OpenAI/Python 1.0"}))[0] == 200
    agent = upstream.last_request.header("user-agent") or ""
    assert agent.startswith("codex_cli_rs/9.9.9 (")
    assert agent.endswith(") xterm-256color")
    assert upstream.last_request.header("originator") == "codex_cli_rs"
    real = "codex_cli_rs/0.171.0 (Debian 12; x86_64) xterm-256color"
    assert (await post(gw, {"User-Agent": real}))[0] == 200
    assert upstream.last_request.header("user-agent") == real


@pytest.mark.parametrize("version", ["", "9 9", "x" * 41, "1.0\r\nX: y"])
def test_a_bad_codex_version_is_refused_naming_the_variable(tmp_path: Path, version: str) -> None:
    with pytest.raises(ConfigError, match="LUNAROUTE_CODEX_UA_VERSION"):
        config_from_mapping(codex(tmp_path / "auth.json"), env={"LUNAROUTE_CODEX_UA_VERSION": version})


def test_client_version_in_the_file_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="client_version"):
        config_from_mapping(codex(tmp_path / "auth.json", client_version="1.0 beta"))
