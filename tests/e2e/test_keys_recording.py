"""Keyed exchanges recorded end to end: each session carries its key id, name and team in JSONL, SQLite and the
UI API (filters, the by-key breakdown) — and the key's secret is in no file, no metric and no UI answer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiohttp
import anthropic
import openai
import pytest
from tests.ui._server import ui_server

from lunaroute.keys import CreatedKey, KeyManager, KeySpec, open_key_store
from lunaroute.recording.query import SessionFilter, SqliteSessionStore
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, Reply, Usage

pytestmark = pytest.mark.e2e


async def _keys(db: str) -> tuple[CreatedKey, CreatedKey]:
    store = await open_key_store(db)
    try:
        keys = KeyManager(store)
        return (
            await keys.create(KeySpec(name="ci-bot", team="platform")),
            await keys.create(KeySpec(name="ana-laptop", team="research")),
        )
    finally:
        await store.aclose()


async def test_sessions_carry_key_and_team_and_the_secret_is_nowhere(
    make_gateway: GatewayFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    db = str(tmp_path / "keys.db")
    ci, ana = await _keys(db)
    gateway = await make_gateway(
        auth={"mode": "keys", "database": db},
        providers={"openai": {"api_key": "sk-provider-openai"}, "anthropic": {"api_key": "sk-ant-provider"}},
        session_recording={
            "enabled": True,
            "jsonl": {"directory": str(tmp_path / "sessions")},
            "sqlite": {"path": str(tmp_path / "sessions.db")},
            "journal_directory": str(tmp_path / "journal"),
        },
        logging={"log_requests": True},
    )
    usage = Usage(input_tokens=100, output_tokens=20)
    upstream.enqueue(
        Reply(answer=Answer(text="ok", usage=usage)),
        Reply(answer=Answer(text="ok", usage=usage)),
        Reply(answer=Answer(text=f"your key {ci.secret} is wrong", usage=usage)),  # a model repeating a pasted key
    )
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=ci.secret, max_retries=0) as oai:
        await oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "one"}])
        stream = await oai.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "two"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        async for _ in stream:
            pass
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key=ana.secret, max_retries=0) as ant:
        await ant.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=50,
            messages=[{"role": "user", "content": f"why does {ci.secret} fail?"}],
        )
    # A refused request (no key) is not recorded.
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{gateway.url}/v1/chat/completions", json={"model": "gpt-4o", "messages": []}) as r:
            assert r.status == 401
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()

    with sqlite3.connect(tmp_path / "sessions.db") as conn:
        recorded = sorted(conn.execute("SELECT key_id, key_name, team FROM sessions").fetchall())
    assert recorded == sorted([(ci.record.id, "ci-bot", "platform")] * 2 + [(ana.record.id, "ana-laptop", "research")])
    jsonl = "".join(p.read_text() for p in (tmp_path / "sessions").rglob("*.jsonl"))
    assert f'"key_id":"{ci.record.id}"' in jsonl
    assert '"team":"research"' in jsonl

    store = SqliteSessionStore(tmp_path / "sessions.db")
    try:
        page = await store.list_sessions(SessionFilter(team="platform"))
        assert page.total == 2
        assert (await store.list_sessions(SessionFilter(key="ana-laptop"))).total == 1
        assert (await store.list_sessions(SessionFilter(key=ana.record.id))).total == 1
        by_key = await store.key_usage(24)
    finally:
        await store.close()
    assert [(k.key_name, k.team, k.request_count) for k in by_key] == [
        ("ci-bot", "platform", 2),
        ("ana-laptop", "research", 1),
    ]
    assert by_key[0].tokens.input == 200

    async with ui_server(gateway) as ui, aiohttp.ClientSession() as http:
        async with http.get(f"{ui}/api/stats/keys?hours=24") as r:
            api_keys = await r.json()
        assert {k["key_name"] for k in api_keys} == {"ci-bot", "ana-laptop"}
        pages = []
        for path in ("/api/sessions?team=research", "/sessions", "/", "/api/sessions"):
            async with http.get(f"{ui}{path}") as r:
                assert r.status == 200, path
                pages.append(await r.text())
        async with http.get(f"{ui}/api/sessions?team=research") as r:
            listed = (await r.json())["sessions"]
        assert len(listed) == 1
        for s in listed:
            async with http.get(f"{ui}/api/sessions/{s['session_id']}") as r:
                pages.append(await r.text())
            async with http.get(f"{ui}/sessions/{s['session_id']}") as r:
                pages.append(await r.text())
        async with http.get(f"{gateway.url}/metrics") as r:
            pages.append(await r.text())
    for secret in (ci.secret, ana.secret):
        for text in pages:
            assert secret not in text
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
