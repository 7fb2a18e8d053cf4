"""Redaction and encryption at rest, configured, through a real gateway and its recorder process."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from lunaroute.config import config_from_mapping
from lunaroute.recording import Completed, RequestRecorded, ResponseRecorded, read_session_file
from lunaroute.recording._crypto import RecordCipher
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, GatewayServer, Reply
from lunaroute.ui import build_ui_app

KEY_HEX = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


async def ask(gateway: GatewayServer, text: str, session: str, request_id: str = "rid-1") -> str:
    """Send one exchange and wait until it is recorded; returns the gateway's id of it."""
    body = {"model": "gpt-x", "messages": [{"role": "user", "content": text}]}
    headers = {"session_id": session, "x-request-id": request_id}
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"{gateway.url}/v1/chat/completions", json=body, headers=headers) as response,
    ):
        assert response.status == 200
        await response.read()
        recorded_id = response.headers["x-lunaroute-request-id"]
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()
    return recorded_id


async def test_redaction_reaches_every_store(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(
        session_recording={
            "jsonl": {"directory": str(tmp_path / "sessions")},
            "sqlite": {"path": str(tmp_path / "sessions.db")},
            "journal_directory": str(tmp_path / "journal"),
            "redaction": {"enabled": True, "builtin": ["email"]},
        }
    )
    upstream.enqueue(Reply(answer=Answer(text="I will write to bob@example.org")))
    await ask(gateway, "mail alice@example.com please", "sess-redact")
    [path] = (tmp_path / "sessions").rglob("sess-redact.jsonl")
    raw = path.read_text()
    assert "alice@example.com" not in raw
    assert "bob@example.org" not in raw
    events = read_session_file(path).events
    [request] = [e for e in events if isinstance(e, RequestRecorded)]
    [response] = [e for e in events if isinstance(e, ResponseRecorded)]
    assert request.request_text == "mail [REDACTED:email] please"
    assert response.response_text == "I will write to [REDACTED:email]"
    dump = "\n".join(sqlite3.connect(tmp_path / "sessions.db").iterdump())
    assert "alice@example.com" not in dump
    assert "bob@example.org" not in dump


async def test_encrypted_session_files_read_back_with_the_key(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(
        session_recording={
            "jsonl": {"directory": str(tmp_path / "sessions")},
            "sqlite": {"enabled": False},
            "journal_directory": str(tmp_path / "journal"),
            "encryption": {"enabled": True, "key": KEY_HEX},
        }
    )
    upstream.enqueue(Reply(answer=Answer(text="the secret answer")))
    await ask(gateway, "the secret question", "sess-sealed")
    [path] = (tmp_path / "sessions").rglob("sess-sealed.jsonl")
    lines = path.read_bytes().splitlines()
    assert lines
    assert all(line.startswith(b"LR1:") for line in lines)
    assert b"secret" not in path.read_bytes()
    events = read_session_file(path, cipher=RecordCipher(bytes.fromhex(KEY_HEX))).events
    [request] = [e for e in events if isinstance(e, RequestRecorded)]
    assert request.request_text == "the secret question"
    assert any(isinstance(e, Completed) for e in events)


async def test_the_ui_shows_an_encrypted_session(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    recording = {
        "jsonl": {"directory": str(tmp_path / "sessions")},
        "sqlite": {"path": str(tmp_path / "sessions.db")},
        "journal_directory": str(tmp_path / "journal"),
        "encryption": {"enabled": True, "key": KEY_HEX},
    }
    gateway = await make_gateway(session_recording=recording)
    upstream.enqueue(Reply(answer=Answer(text="sealed answer")))
    recorded_id = await ask(gateway, "sealed question", "sess-ui", "rid-ui")
    app = build_ui_app(config_from_mapping({"session_recording": recording}))
    async with TestClient(TestServer(app)) as client:
        response = await client.get(f"/api/sessions/sess-ui/raw/{recorded_id}")
        assert response.status == 200
        raw = await response.json()
    assert raw["request"]["messages"][0]["content"] == "sealed question"
