"""The one rule for tests that need a component `.ci/run` provides (PostgreSQL, Chromium, Playwright, the real
Claude Code and Codex CLIs): in CI (`CI=true`) a missing component fails the test; elsewhere it skips, saying why.

Also where the PostgreSQL tests find their server: `LUNAROUTE_TEST_PG` (default the local server), on which each
test creates a database of its own and drops it afterwards (the `pg_dsn` fixture in `tests/conftest.py`).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]
import pytest

__all__ = ["DEFAULT_PG", "fresh_pg_database", "in_ci", "missing", "pg_server_url", "pg_url"]

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
"""The PostgreSQL server of the development machines and of `.ci/run` (a password-less `postgres` user)."""


def in_ci() -> bool:
    """True when the `CI` environment variable says so (`true`, `1` or `yes`, as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing(component: str, reason: str, *, allow_module_level: bool = False) -> NoReturn:
    """`component` is not there: fail in CI (it was meant to be installed), skip elsewhere; `reason` says why."""
    message = f"{component} is missing: {reason}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: the tests that need it must run)", pytrace=False)
    pytest.skip(message, allow_module_level=allow_module_level)


def pg_server_url() -> str:
    """The URL of the test server: `LUNAROUTE_TEST_PG`, else `DEFAULT_PG`. Its database is only connected to."""
    return os.environ.get("LUNAROUTE_TEST_PG") or DEFAULT_PG


def pg_url(base: str, *, database: str | None = None, host: str | None = None, port: int | None = None) -> str:
    """`base` with its database, host or port replaced (user, password and query kept)."""
    parts = urlsplit(base)
    netloc = parts.netloc
    if host is not None or port is not None:
        userinfo, _, _ = netloc.rpartition("@")
        address = f"{host or parts.hostname}:{port or parts.port or 5432}"
        netloc = f"{userinfo}@{address}" if userinfo else address
    path = f"/{database}" if database is not None else parts.path
    return urlunsplit((parts.scheme, netloc, path, parts.query, parts.fragment))


@contextlib.asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """The URL of a new, empty database on the test server, dropped on leaving (`missing` when there is none)."""
    server = pg_server_url()
    problem = ""
    try:
        try:
            admin = await asyncpg.connect(server, timeout=5)
        except asyncpg.InvalidCatalogNameError:  # the URL's database is missing: the server's own will do
            admin = await asyncpg.connect(pg_url(server, database="postgres"), timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        problem = f"not reachable at {server} ({exc!r}); set LUNAROUTE_TEST_PG to a server URL"
    if problem:
        missing("PostgreSQL", problem)
    name = f"lunaroute_test_{uuid.uuid4().hex[:16]}"
    try:
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.PostgresError as exc:
            problem = f"cannot create a test database on {server}: {exc!r}"
        if problem:
            missing("PostgreSQL", problem)
        try:
            yield pg_url(server, database=name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
