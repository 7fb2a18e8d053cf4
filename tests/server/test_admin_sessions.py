"""`DELETE /admin/sessions/{id}`: a recorded session leaves every configured store (SQLite, JSONL, PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import asyncpg  # type: ignore[import-untyped]

from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import GatewayFactory, GatewayServer

ADMIN = "admin-secret-0123456789"
SESSION = "session-to-delete-1"


def _recording(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "jsonl": {"directory": str(tmp_path / "sessions")},
        "sqlite": {"path": str(tmp_path / "sessions.db")},
        "journal_directory": str(tmp_path / "journal"),
        **extra,
    }


async def _record_one(gw: GatewayServer) -> None:
    """One exchange in session `SESSION` (Claude Code's way of naming it), recorded before this returns."""
    client = anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0)
    try:
        await client.messages.create(
            model="claude-test",
            max_tokens=16,
            messages=[{"role": "user", "content": "hi"}],
            metadata={"user_id": f"user_abc_account__session_{SESSION}"},
        )
    finally:
        await client.close()
    assert gw.app is not None
    capture = gw.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()


async def _delete(gw: GatewayServer, session_id: str) -> tuple[int, Any]:
    headers = {"authorization": f"Bearer {ADMIN}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.delete(f"{gw.url}/admin/sessions/{session_id}") as r:
            return r.status, await r.json()


def _auth(tmp_path: Path) -> dict[str, Any]:
    return {"admin_key": ADMIN, "database": str(tmp_path / "keys.db")}


async def test_a_session_is_deleted_from_sqlite_and_jsonl(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gw = await make_gateway(session_recording=_recording(tmp_path), auth=_auth(tmp_path))
    await _record_one(gw)
    assert list((tmp_path / "sessions").rglob(f"{SESSION}*"))
    status, body = await _delete(gw, SESSION)
    assert status == 200, body
    assert body["session_id"] == SESSION
    assert sorted(body["deleted_from"]) == ["jsonl", "sqlite"]
    assert body["files_removed"] >= 1
    assert not list((tmp_path / "sessions").rglob(f"{SESSION}*"))
    status, body = await _delete(gw, SESSION)
    assert status == 404
    assert body["error"]["type"] == "not_found_error"


async def test_an_unknown_or_malformed_session_id_is_404(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gw = await make_gateway(session_recording=_recording(tmp_path), auth=_auth(tmp_path))
    for session_id in ("never-recorded", "bad%20id", "a.b"):
        status, _ = await _delete(gw, session_id)
        assert status == 404, session_id


async def test_a_session_is_deleted_from_postgresql(make_gateway: GatewayFactory, tmp_path: Path, pg_dsn: str) -> None:
    recording = _recording(tmp_path, postgres={"enabled": True, "connection_string": pg_dsn})
    recording["sqlite"] = {"enabled": False}
    gw = await make_gateway(session_recording=recording, auth=_auth(tmp_path))
    await _record_one(gw)
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM sessions WHERE session_id = $1", SESSION) == 1
        status, body = await _delete(gw, SESSION)
        assert status == 200, body
        assert sorted(body["deleted_from"]) == ["jsonl", "postgres"]
        assert await conn.fetchval("SELECT count(*) FROM sessions WHERE session_id = $1", SESSION) == 0
        assert await conn.fetchval("SELECT count(*) FROM session_stats WHERE session_id = $1", SESSION) == 0
    finally:
        await conn.close()
