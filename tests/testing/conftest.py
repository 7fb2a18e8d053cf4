"""A started `FakeUpstream` per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from lunaroute.testing import FakeUpstream


@pytest.fixture
async def up() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(max_reply_seconds=10.0) as upstream:
        yield upstream
