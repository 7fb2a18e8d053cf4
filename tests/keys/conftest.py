"""Key store fixtures: each test runs on a SQLite file and on a PostgreSQL database of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests._needs import fresh_pg_database


@pytest.fixture(params=["sqlite", "postgres"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each test runs once on a SQLite file and once on a PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "keys.db")
        return
    async with fresh_pg_database() as url:
        yield url
