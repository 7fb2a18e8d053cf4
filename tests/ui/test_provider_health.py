"""`/api/providers` on the UI: the running gateway's provider health, breaker state and last error."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from tests.ui._server import ui_server

from lunaroute.config import config_from_mapping
from lunaroute.testing import FakeUpstream, GatewayFactory
from lunaroute.ui import build_ui_app


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return await response.json()


async def test_the_ui_shows_each_providers_health_and_last_error(
    make_gateway: GatewayFactory, upstream: FakeUpstream
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    gw = await make_gateway(providers={"openai": {"base_url": dead}})
    chat = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gw.url}/v1/chat/completions", json=chat) as response:
            assert response.status == 502
        ask = {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
        headers = {"anthropic-version": "2023-06-01"}
        async with session.post(f"{gw.url}/v1/messages", json=ask, headers=headers) as response:
            assert response.status == 200
    async with ui_server(gw) as base:
        answer = await get_json(f"{base}/api/providers")
    assert answer["live"] is True
    by_name = {p["name"]: p for p in answer["data"]}
    assert set(by_name) == {"openai", "anthropic"}
    assert by_name["openai"]["base_url"] == dead
    assert by_name["openai"]["last_error"] == "connect_error"
    assert by_name["openai"]["health"]["requests"] == 1
    assert by_name["openai"]["health"]["success_rate"] == 0.0
    assert by_name["anthropic"]["breaker"] == "closed"
    assert by_name["anthropic"]["last_error"] is None
    assert by_name["anthropic"]["in_flight"] == 0


async def test_a_ui_without_a_gateway_says_health_is_not_live() -> None:
    app = build_ui_app(config_from_mapping({"session_recording": {"enabled": False}}))
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/api/providers")
        assert await response.json() == {"live": False, "data": []}
