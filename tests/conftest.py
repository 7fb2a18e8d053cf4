"""Shared fixtures: a fake upstream and a gateway in front of it, both real servers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from lunaroute.testing import FakeUpstream
from lunaroute.testing._gateway import GatewayFactory, GatewayServer, upstream_config


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(max_reply_seconds=10.0) as up:
        yield up


@pytest.fixture
async def make_gateway(upstream: FakeUpstream) -> AsyncIterator[GatewayFactory]:
    started: list[GatewayServer] = []

    async def factory(env: dict[str, str] | None = None, **overrides: Any) -> GatewayServer:
        server = GatewayServer(upstream_config(upstream.url, **overrides), env=env)
        await server.start()
        started.append(server)
        return server

    yield factory
    for server in started:
        await server.stop()


@pytest.fixture
async def gateway(make_gateway: GatewayFactory) -> GatewayServer:
    return await make_gateway()
