"""The Rust LunaRoute's UI and SQL logging keys: refresh_interval, sessions_dir, log_requests,
sqlite.max_connections, logging.log_sql_queries."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from tests.recording.query._seed import now_utc, seed, standard_specs

from lunaroute.config import config_from_mapping
from lunaroute.errors import ConfigError
from lunaroute.recording.query import PostgresSessionStore, SqliteSessionStore
from lunaroute.recording.sqlite import SqliteWriter
from lunaroute.ui import build_ui_app
from lunaroute.ui._serve import UI_STORE, ui_store


@pytest.fixture
async def seeded(tmp_path: Path) -> tuple[Path, Path]:
    db, jsonl = tmp_path / "sessions.db", tmp_path / "sessions"
    await seed(db, jsonl, standard_specs(now_utc()))
    return db, jsonl


def ui_config(db: Path, jsonl_dir: Path, **ui: Any) -> Any:
    raw = {"session_recording": {"enabled": True, "sqlite": {"path": str(db)}, "jsonl": {"directory": str(jsonl_dir)}}}
    return config_from_mapping({**raw, "ui": ui}, env={})


async def test_refresh_interval_sets_the_dashboards_poll(seeded: tuple[Path, Path]) -> None:
    config = ui_config(*seeded, refresh_interval=12)
    async with TestClient(TestServer(build_ui_app(config))) as client:
        html = await (await client.get("/")).text()
    assert 'data-refresh-ms="12000"' in html


async def test_sessions_dir_is_where_the_ui_reads_session_files(tmp_path: Path, seeded: tuple[Path, Path]) -> None:
    db, jsonl = seeded
    elsewhere = tmp_path / "recorder-writes-here"
    raw_path = "/api/sessions/sess-a/raw/sess-a-req0"
    async with TestClient(TestServer(build_ui_app(ui_config(db, elsewhere)))) as client:
        assert (await client.get(raw_path)).status == 404
    async with TestClient(TestServer(build_ui_app(ui_config(db, elsewhere, sessions_dir=str(jsonl))))) as client:
        response = await client.get(raw_path)
        assert response.status == 200
        assert (await response.json())["request_id"] == "sess-a-req0"


async def test_log_requests_logs_each_ui_request(seeded: tuple[Path, Path], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lunaroute.ui")
    async with TestClient(TestServer(build_ui_app(ui_config(*seeded, log_requests=True)))) as client:
        assert (await client.get("/api/sessions?token=secret")).status == 200
        assert (await client.get("/api/sessions/nope-404")).status == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "lunaroute.ui"]
    assert any(line.startswith("ui request GET /api/sessions 200 ") for line in lines)
    assert any(line.startswith("ui request GET /api/sessions/nope-404 404 ") for line in lines)
    assert not any("secret" in line for line in lines)


async def test_without_log_requests_nothing_is_logged(
    seeded: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lunaroute.ui")
    async with TestClient(TestServer(build_ui_app(ui_config(*seeded)))) as client:
        assert (await client.get("/api/sessions")).status == 200
    assert not [r for r in caplog.records if r.getMessage().startswith("ui request")]


@pytest.mark.parametrize("cap", [1, 3])
async def test_sqlite_max_connections_caps_the_read_connections(seeded: tuple[Path, Path], cap: int) -> None:
    db, jsonl = seeded
    config = config_from_mapping(
        {
            "session_recording": {
                "enabled": True,
                "sqlite": {"path": str(db), "max_connections": cap},
                "jsonl": {"directory": str(jsonl)},
            }
        },
        env={},
    )
    app = build_ui_app(config)
    async with TestClient(TestServer(app)) as client:
        statuses = await asyncio.gather(*(client.get("/api/stats/overview") for _ in range(12)))
        assert {r.status for r in statuses} == {200}
        store = app[UI_STORE]
        assert isinstance(store, SqliteSessionStore)
        assert 1 <= store.read_connections <= cap


async def test_log_sql_queries_logs_the_statements(
    tmp_path: Path, seeded: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lunaroute.sql")
    writer = await SqliteWriter.open(tmp_path / "logged.db", log_sql=True)
    await writer.close()
    assert any("CREATE TABLE" in r.getMessage() for r in caplog.records if r.name == "lunaroute.sql")
    caplog.clear()
    config = ui_config(*seeded)
    config.logging.log_sql_queries = True
    async with TestClient(TestServer(build_ui_app(config))) as client:
        assert (await client.get("/api/sessions")).status == 200
    assert any("FROM sessions" in r.getMessage() for r in caplog.records if r.name == "lunaroute.sql")


async def test_sql_is_not_logged_by_default(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lunaroute.sql")
    writer = await SqliteWriter.open(tmp_path / "quiet.db")
    await writer.close()
    assert not [r for r in caplog.records if r.name == "lunaroute.sql"]


@pytest.mark.parametrize("database", ["postgres", "postgresql://reader@db.internal/lunaroute", "postgres://db/x"])
def test_a_postgres_database_is_enough_for_the_ui(database: str) -> None:
    config = config_from_mapping({"session_recording": {"enabled": False}, "ui": {"database": database}}, env={})
    assert config.ui.enabled
    store = ui_store(config)
    assert isinstance(store, PostgresSessionStore)
    assert store.dsn == ("postgresql://localhost/lunaroute" if database == "postgres" else database)


def test_postgres_ui_reads_the_recording_schema() -> None:
    config = config_from_mapping(
        {
            "session_recording": {"postgres": {"connection_string": "postgresql://db/x", "schema": "replicas"}},
            "ui": {"database": "postgres"},
        },
        env={},
    )
    store = ui_store(config)
    assert isinstance(store, PostgresSessionStore)
    assert (store.dsn, store.schema) == ("postgresql://db/x", "replicas")


@pytest.mark.parametrize("database", ["mysql://db/x", "sessions.db", ""])
def test_other_databases_are_refused(database: str) -> None:
    with pytest.raises(ConfigError, match=r"sqlite, postgres or a postgresql:// URL"):
        config_from_mapping({"ui": {"database": database}}, env={})


def test_ui_without_any_store_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"or set ui\.database"):
        config_from_mapping({"session_recording": {"enabled": False}, "ui": {"enabled": True}}, env={})
