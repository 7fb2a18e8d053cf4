"""The upstream pool keys of `http_client`: the per-host cap, the pool gauges in `/metrics`, the retry clamp."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from lunaroute.config import config_from_mapping
from lunaroute.testing import FakeUpstream, GatewayFactory, GatewayServer, Reply

CHAT = {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}


async def post(gw: GatewayServer) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gw.url}/v1/chat/completions", json=CHAT) as response:
            await response.read()
            return response.status


async def scrape(gw: GatewayServer) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{gw.url}/metrics") as response:
        return await response.text()


def openai(http_client: dict[str, Any]) -> dict[str, Any]:
    return {"providers": {"openai": {"http_client": http_client}}}


async def test_pool_max_idle_per_host_caps_connections_to_the_upstream(
    make_gateway: GatewayFactory, upstream: FakeUpstream
) -> None:
    upstream.default = Reply(delay_before_headers=0.3)
    gw = await make_gateway(**openai({"pool_max_idle_per_host": 1}))
    assert await asyncio.gather(*(post(gw) for _ in range(3))) == [200, 200, 200]
    times = sorted(r.received_at for r in upstream.requests)
    # One connection at a time: each request reaches the upstream only after the previous answer.
    assert times[1] - times[0] >= 0.25
    assert times[2] - times[1] >= 0.25


async def test_without_a_cap_requests_reach_the_upstream_together(
    make_gateway: GatewayFactory, upstream: FakeUpstream
) -> None:
    upstream.default = Reply(delay_before_headers=0.3)
    gw = await make_gateway()
    assert await asyncio.gather(*(post(gw) for _ in range(3))) == [200, 200, 200]
    times = sorted(r.received_at for r in upstream.requests)
    assert times[2] - times[0] < 0.25


async def test_pool_metrics_show_the_connections(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(**openai({"enable_pool_metrics": True}))
    for _ in range(3):
        assert await post(gw) == 200
    text = await scrape(gw)
    assert 'lunaroute_upstream_pool_connections{provider="openai",state="idle"} 1.0' in text
    assert 'lunaroute_upstream_pool_connections{provider="openai",state="active"} 0.0' in text
    assert 'lunaroute_upstream_pool_connections_opened_total{provider="openai"} 1.0' in text
    assert 'lunaroute_upstream_pool_connections_reused_total{provider="openai"} 2.0' in text


async def test_pool_metrics_can_be_switched_off(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(
        providers={"openai": {"http_client": {"enable_pool_metrics": False}}, "anthropic": {"enabled": False}}
    )
    assert await post(gw) == 200
    assert "lunaroute_upstream_pool" not in await scrape(gw)


def test_max_retries_is_clamped_to_ten() -> None:
    config = config_from_mapping(openai({"max_retries": 64}), env={})
    assert config.providers["openai"].http_client.max_retries == 10


async def test_clamped_retries_stop_after_eleven_attempts(make_gateway: GatewayFactory, upstream: FakeUpstream) -> None:
    upstream.default = Reply(status=503)
    gw = await make_gateway(
        **openai({"max_retries": 40, "retry_base_delay_ms": 1, "retry_max_delay_ms": 2}),
        routing={"circuit_breaker": {"enabled": False}},
    )
    assert await post(gw) == 503
    assert len(upstream.requests) == 11
