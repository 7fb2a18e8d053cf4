"""Fixtures: a seeded session database and JSONL tree, and a store over them."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.recording.query._seed import now_utc, seed, standard_specs

from lunaroute.recording.query import SqliteSessionStore, TokenCounts


@pytest.fixture
def now() -> dt.datetime:
    return now_utc()


@pytest.fixture
async def seeded(tmp_path: Path, now: dt.datetime) -> tuple[Path, Path]:
    db, jsonl = tmp_path / "sessions.db", tmp_path / "sessions"
    await seed(db, jsonl, standard_specs(now))
    return db, jsonl


def flat_price(provider: str, model: str, tokens: TokenCounts) -> float | None:
    """$1 per million input, $2 per million output tokens; unknown for gpt models."""
    if model.startswith("gpt"):
        return None
    return (tokens.input * 1.0 + tokens.output * 2.0) / 1_000_000


@pytest.fixture
async def store(seeded: tuple[Path, Path]) -> AsyncIterator[SqliteSessionStore]:
    s = SqliteSessionStore(seeded[0], price=flat_price)
    yield s
    await s.close()
