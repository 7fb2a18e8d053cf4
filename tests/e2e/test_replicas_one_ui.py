"""Two gateway replicas recording into one PostgreSQL database, one place to look: the UI over PostgreSQL
(`ui.database`), its pages and `/api/...`, and `lunaroute sessions --db postgresql://…`."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from aiohttp import web
from click.testing import CliRunner

from lunaroute.cli._sessions import sessions_group
from lunaroute.config import config_from_mapping
from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, Reply, Usage
from lunaroute.ui import build_ui_app

pytestmark = pytest.mark.e2e


def replica(tmp_path: Path, name: str, dsn: str) -> dict[str, Any]:
    return {
        "session_recording": {
            "enabled": True,
            "jsonl": {"directory": str(tmp_path / name / "sessions")},
            "sqlite": {"enabled": False},
            "postgres": {"enabled": True, "connection_string": dsn},
            "journal_directory": str(tmp_path / name / "journal"),
        },
        "ui": {"enabled": False},
    }


async def api(base: str, path: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(base + path) as response:
        assert response.status == 200, await response.text()
        return await response.json() if response.content_type == "application/json" else await response.text()


async def test_two_replicas_one_ui(
    tmp_path: Path, pg_dsn: str, upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    a = await make_gateway(**replica(tmp_path, "a", pg_dsn))
    b = await make_gateway(**replica(tmp_path, "b", pg_dsn))
    upstream.enqueue(
        Reply(answer=Answer(text="from a", usage=Usage(input_tokens=11, output_tokens=3))),
        Reply(answer=Answer(text="from b", usage=Usage(input_tokens=13, output_tokens=5))),
    )
    async with anthropic.AsyncAnthropic(base_url=a.url, api_key="k", max_retries=0) as claude:
        await claude.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=50,
            metadata={"user_id": json.dumps({"session_id": "replica-a-1"})},
            messages=[{"role": "user", "content": "hello a"}],
        )
    async with openai.AsyncOpenAI(base_url=f"{b.url}/v1", api_key="k", max_retries=0) as gpt:
        await gpt.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hello b"}],
            extra_headers={"x-session-id": "replica-b-1"},
        )

    config = config_from_mapping({"session_recording": {"enabled": False}, "ui": {"database": pg_dsn}}, env={})
    assert config.ui.enabled  # a PostgreSQL store to read is enough, nothing recorded here
    runner = web.AppRunner(build_ui_app(config))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        deadline = time.monotonic() + 20
        while True:  # each replica's recorder writes in the background
            page = await api(base, "/api/sessions")
            if page["total"] == 2 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert sorted(s["session_id"] for s in page["sessions"]) == ["replica-a-1", "replica-b-1"]
        overview = await api(base, "/api/stats/overview?hours=1")
        assert overview["requests"] == 2
        assert overview["tokens"]["input"] == 24
        assert overview["tokens"]["output"] == 8
        detail = await api(base, "/api/sessions/replica-b-1")
        assert detail["summary"]["model_requested"] == "gpt-4o-mini"
        assert [r["provider"] for r in detail["requests"]] == ["openai"]
        assert "replica-a-1" in await api(base, "/sessions")
        assert "hello a" in await api(base, "/sessions/replica-a-1")
        assert "<html" in (await api(base, "/")).lower()
    finally:
        await runner.cleanup()

    result = await asyncio.to_thread(
        CliRunner().invoke, sessions_group, ["list", "--json", "--db", pg_dsn], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert {s["session_id"] for s in json.loads(result.stdout)["sessions"]} == {"replica-a-1", "replica-b-1"}
