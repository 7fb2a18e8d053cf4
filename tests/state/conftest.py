"""State store fixtures: the in-process store, and a Redis store under a prefix of its own per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from tests._needs import missing

from lunaroute.state import MemoryState, RedisState, StateUnavailable

REDIS_URL = os.environ.get("LUNAROUTE_TEST_REDIS", "redis://127.0.0.1:6379/0")


async def open_redis(prefix: str) -> RedisState:
    """A Redis store under `prefix`; skips without a server, except in CI."""
    try:
        return await RedisState.open(REDIS_URL, prefix=prefix)
    except StateUnavailable as exc:
        missing("Redis", str(exc))


@pytest.fixture(params=["memory", "redis"])
async def state(request: pytest.FixtureRequest) -> AsyncIterator[MemoryState | RedisState]:
    if request.param == "memory":
        yield MemoryState()
        return
    store = await open_redis(f"lunaroute-test:{uuid.uuid4().hex[:10]}:")
    yield store
    await store.aclose()
