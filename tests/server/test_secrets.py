"""No secret anywhere it does not belong: body override fields and echoed provider keys, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from lunaroute.scrub import MASK
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import FakeUpstream, GatewayFactory, GatewayServer, Reply

PROVIDER_KEY = "sk-ant-provider-canary-5f4e3d2c1b"
BODY_KEY = "sk-body-canary-0a1b2c3d4e5f"
ANTHROPIC = {"anthropic-version": "2023-06-01"}
ASK = {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


async def post(gw: GatewayServer, body: dict[str, object], **headers: str) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{gw.url}/v1/messages", json=body, headers={**ANTHROPIC, **headers}) as response,
    ):
        return response.status, await response.read()


def files_holding(root: Path, needle: bytes) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file() and needle in path.read_bytes()]


async def test_no_secret_reaches_the_upstream_the_client_or_any_store(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gw = await make_gateway(
        providers={"anthropic": {"api_key": PROVIDER_KEY}},
        session_recording={
            "jsonl": {"directory": str(tmp_path / "sessions")},
            "sqlite": {"path": str(tmp_path / "sessions.db")},
            "journal_directory": str(tmp_path / "journal"),
        },
    )
    overrides = {
        "api_key": BODY_KEY,
        "api_base": "http://169.254.169.254/",
        "base_url": "http://127.0.0.1:5432/",
        "custom_llm_provider": "bedrock",
        "extra_headers": {"x-api-key": BODY_KEY},
    }
    status, _ = await post(gw, {**ASK, **overrides})
    assert status == 200
    forwarded = json.loads(upstream.last_request.body)
    assert forwarded == ASK
    assert upstream.last_request.header("x-api-key") == PROVIDER_KEY

    echo = f"invalid x-api-key: {PROVIDER_KEY}"
    upstream.enqueue(Reply(status=401, error_message=echo), Reply(status=401, error_message=echo, gzip=True))
    for encoding in ("identity", "gzip"):
        status, answer = await post(gw, ASK, **{"accept-encoding": encoding})
        assert status == 401
        assert PROVIDER_KEY.encode() not in answer
        assert json.loads(answer)["error"]["message"] == f"invalid x-api-key: {MASK}"

    assert gw.app is not None
    capture = gw.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()
    assert list((tmp_path / "sessions").rglob("*.jsonl"))
    assert files_holding(tmp_path, BODY_KEY.encode()) == []
    assert files_holding(tmp_path, PROVIDER_KEY.encode()) == []
    assert files_holding(tmp_path, MASK.encode())  # the masked error was recorded, not dropped


async def test_a_codex_token_read_at_run_time_is_masked_everywhere(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    """The token `codex_auth` reads from Codex's auth.json is no configured key, but no output may hold it
    either: an upstream error that echoes it is masked for the client and in every store."""
    token = "codex-access-token-canary-7d6c5b4a"
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"tokens": {"access_token": token}}))
    gw = await make_gateway(
        providers={"openai": {"codex_auth": {"enabled": True, "auth_file": str(auth)}}},
        session_recording={
            "jsonl": {"directory": str(tmp_path / "sessions")},
            "sqlite": {"path": str(tmp_path / "sessions.db")},
            "journal_directory": str(tmp_path / "journal"),
        },
    )
    upstream.enqueue(Reply(status=401, error_message=f"token {token} expired"))
    chat = {"model": "gpt-5-codex", "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{gw.url}/v1/chat/completions", json=chat) as response,
    ):
        status, answer = response.status, await response.read()
    assert status == 401
    assert upstream.last_request.header("authorization") == f"Bearer {token}"
    assert token.encode() not in answer
    assert MASK.encode() in answer
    assert gw.app is not None
    capture = gw.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()
    assert files_holding(tmp_path / "sessions", MASK.encode())
    assert [p for p in files_holding(tmp_path, token.encode()) if p != auth] == []
