"""One access line per request: identity, route, status, timings and, with recording on, session and tokens."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import aiohttp
import pytest

from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, Reply, Usage

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "top secret prompt"}]}


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "lunaroute.access"]


async def test_access_line_with_recording_has_session_and_tokens(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # With recording on, the recorder process writes the line (it knows the session and the tokens) to the
    # stderr it shares with the gateway, as JSON when that is not a terminal.
    gw = await make_gateway(
        logging={"log_requests": True, "level": "debug"},
        session_recording={
            "jsonl": {"directory": str(tmp_path / "s")},
            "sqlite": {"path": str(tmp_path / "s.db")},
            "journal_directory": str(tmp_path / "j"),
        },
    )
    upstream.enqueue(Reply(answer=Answer(text="ok", usage=Usage(input_tokens=11, output_tokens=3))))
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{gw.url}/v1/chat/completions", json=BODY, headers={"session_id": "sess-log-1", "x-request-id": "rid-1"}
        ) as response:
            await response.read()
    assert gw.app is not None
    capture = gw.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()
    err = capfd.readouterr().err
    lines = [json.loads(text) for text in err.splitlines() if text.startswith("{")]
    [fields] = [line for line in lines if line["logger"] == "lunaroute.access"]
    assert fields["client_request_id"] == "rid-1"
    assert fields["request_id"] != "rid-1"
    assert fields["session_id"] == "sess-log-1"
    assert fields["provider"] == "openai"
    assert fields["route"] == "default"
    assert fields["status"] == 200
    assert fields["input_tokens"] == 11
    assert fields["output_tokens"] == 3
    assert fields["duration_ms"] > 0
    assert "top secret prompt" not in err


async def test_access_line_without_recording(
    upstream: FakeUpstream, make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lunaroute")
    gw = await make_gateway(logging={"log_requests": True})
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gw.url}/v1/chat/completions", json=BODY) as response:
            await response.read()
    [line] = access_lines(caplog)
    assert line.__dict__["status"] == 200
    assert line.__dict__["provider"] == "openai"
