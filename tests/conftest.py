"""Shared fixtures: a fake upstream and a gateway in front of it, both real servers on loopback; a PostgreSQL
database of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests._needs import fresh_pg_database
from tests.recording._builders import FOREGROUND_RECORDER

from lunaroute.testing import FakeUpstream
from lunaroute.testing._gateway import GatewayFactory, GatewayServer, upstream_config


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(max_reply_seconds=10.0) as up:
        yield up


@pytest.fixture
async def make_gateway(upstream: FakeUpstream) -> AsyncIterator[GatewayFactory]:
    """Start gateways in front of `upstream`; a recording one runs its recorder in the normal scheduling class
    unless the test sets `session_recording.worker` itself (see `FOREGROUND_RECORDER`)."""
    started: list[GatewayServer] = []

    async def factory(env: dict[str, str] | None = None, **overrides: Any) -> GatewayServer:
        recording = overrides.get("session_recording")
        if isinstance(recording, dict) and "worker" not in recording:
            overrides["session_recording"] = {**recording, "worker": FOREGROUND_RECORDER}
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


@pytest.fixture
async def pg_dsn() -> AsyncIterator[str]:
    """The URL of a new, empty database on the test server (`LUNAROUTE_TEST_PG`), dropped after the test.

    No server (or no right to create a database) skips the test outside CI and fails it in CI."""
    async with fresh_pg_database() as url:
        yield url
