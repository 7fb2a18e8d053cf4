"""The gateway answers only the Host names it is known by, and JSON endpoints only JSON (cross-site POSTs)."""

from __future__ import annotations

import json

import aiohttp
import pytest

from lunaroute.config import config_from_mapping
from lunaroute.errors import ConfigError
from lunaroute.testing import FakeUpstream
from lunaroute.testing._gateway import GatewayFactory, GatewayServer

CHAT = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
ASK = b'{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'


async def post(gw: GatewayServer, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.post(f"{gw.url}{path}", data=body, headers=headers) as r:
        return r.status, await r.read()


async def test_foreign_host_gets_400_in_the_callers_dialect_without_an_upstream_call(
    upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    gw = await make_gateway(http_server={"allowed_hosts": ["gw.internal"]})
    json_type = {"content-type": "application/json"}
    status, body = await post(gw, "/v1/chat/completions", CHAT, {**json_type, "host": "rebound.evil.example:8081"})
    assert status == 400
    assert "Host header" in json.loads(body)["error"]["message"]
    status, body = await post(
        gw, "/v1/messages", ASK, {**json_type, "host": "evil.example", "anthropic-version": "2023-06-01"}
    )
    assert status == 400
    assert json.loads(body)["type"] == "error"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.url}/metrics", headers={"host": "evil.example"}) as response:
            assert response.status == 400
    assert upstream.requests == []
    for host in ("localhost:1234", "127.0.0.1", "[::1]:8081", "gw.internal:443"):
        status, _ = await post(gw, "/v1/chat/completions", CHAT, {**json_type, "host": host})
        assert status == 200, host
    assert len(upstream.requests) == 4


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_json_endpoints_refuse_posts_that_are_not_json(
    upstream: FakeUpstream, make_gateway: GatewayFactory, content_type: str | None
) -> None:
    gw = await make_gateway()
    headers = {} if content_type is None else {"content-type": content_type}
    async with aiohttp.ClientSession(skip_auto_headers=["Content-Type"]) as session:
        async with session.post(f"{gw.url}/v1/chat/completions", data=CHAT, headers=headers) as response:
            assert response.status == 415
            assert (await response.json())["error"]["code"] == "unsupported_media_type"
    assert upstream.requests == []


def test_allowed_hosts_entries_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"allowed_hosts\[1\]"):
        config_from_mapping({"http_server": {"allowed_hosts": ["ok.example", "http://bad"]}}, env={})
    with pytest.raises(ConfigError, match=r"ui.allowed_hosts\[0\]"):
        config_from_mapping({"ui": {"allowed_hosts": ["gw:8082"]}}, env={})
