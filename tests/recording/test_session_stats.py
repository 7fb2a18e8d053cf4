"""What the recorder process logs: the session summary at shutdown (`session_stats_max_sessions`) and its SQL
(`logging.log_sql_queries`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from lunaroute.recording._session_stats import SessionStats
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, GatewayServer, Reply, Usage


def test_least_recently_active_sessions_are_evicted() -> None:
    stats = SessionStats(2)
    stats.add("a", model="m", ok=True, input_tokens=1)
    stats.add("b", model="m", ok=True)
    stats.add("a", model="m", ok=False, input_tokens=2)
    stats.add("c", model="n", ok=True)
    assert [sid for sid, _ in stats.items()] == ["c", "a"]
    totals = dict(stats.items())["a"]
    assert (totals.requests, totals.failed, totals.input_tokens) == (2, 1, 3)
    assert stats.evicted == 1


def test_zero_keeps_nothing() -> None:
    stats = SessionStats(0)
    stats.add("a", model="m", ok=True)
    assert len(stats) == 0


async def ask(gateway: GatewayServer, session: str) -> None:
    body = {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"{gateway.url}/v1/chat/completions", json=body, headers={"session_id": session}) as response,
    ):
        assert response.status == 200
        await response.read()


def recording(tmp_path: Path) -> dict[str, Any]:
    return {
        "jsonl": {"directory": str(tmp_path / "sessions")},
        "sqlite": {"path": str(tmp_path / "sessions.db")},
        "journal_directory": str(tmp_path / "journal"),
    }


async def test_the_summary_is_logged_at_shutdown(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    upstream.default = Reply(answer=Answer(text="ok", usage=Usage(input_tokens=11, output_tokens=5)))
    gateway = await make_gateway(session_recording=recording(tmp_path), session_stats_max_sessions=2)
    for session in ("sess-one", "sess-two", "sess-two", "sess-three"):
        await ask(gateway, session)
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()
    await gateway.stop()
    err = capfd.readouterr().err
    assert "session summary: 2 session(s) (and 1 older not shown), 3 request(s), 33 input and 15 output tokens" in err
    assert "session sess-two: 2 request(s) (0 failed), 22 input / 10 output tokens" in err
    assert "session sess-three: 1 request(s)" in err
    assert "session sess-one:" not in err


async def test_no_summary_with_zero(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    gateway = await make_gateway(session_recording=recording(tmp_path), session_stats_max_sessions=0)
    await ask(gateway, "sess-one")
    await gateway.stop()
    assert "session summary" not in capfd.readouterr().err


async def test_log_sql_queries_reaches_the_recorder_process(
    make_gateway: GatewayFactory, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    gateway = await make_gateway(session_recording=recording(tmp_path), logging={"log_sql_queries": True})
    await ask(gateway, "sess-sql")
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()
    err = capfd.readouterr().err
    assert '"logger": "lunaroute.sql"' in err
    assert "INSERT INTO sessions" in err
