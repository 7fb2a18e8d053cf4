"""The UI listener answers only the Host names it is known by (DNS rebinding), pages and API alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from lunaroute.config import config_from_mapping
from lunaroute.recording.sqlite import SqliteWriter
from lunaroute.ui import build_ui_app


async def test_ui_refuses_foreign_host_headers(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    await (await SqliteWriter.open(db)).close()
    config = config_from_mapping(
        {
            "session_recording": {
                "sqlite": {"path": str(db)},
                "jsonl": {"directory": str(tmp_path / "sessions")},
                "journal_directory": str(tmp_path / "journal"),
            },
            "ui": {"allowed_hosts": ["ui.internal"]},
        }
    )
    client: TestClient[Any, Any] = TestClient(TestServer(build_ui_app(config)))
    async with client:
        for path in ("/api/sessions", "/"):
            for host in ("evil.example", "evil.example:8082", "127.0.0.1.nip.io:8082"):
                response = await client.get(path, headers={"Host": host})
                assert response.status == 400, (path, host)
                assert "Host header" in await response.text()
            for host in ("localhost:8082", "127.0.0.1:8082", "[::1]:8082", "ui.internal"):
                response = await client.get(path, headers={"Host": host})
                assert response.status == 200, (path, host)
