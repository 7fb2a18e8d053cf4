"""Passthrough through a real gateway to the fake upstream: bytes, headers, credentials, errors, bypass."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import aiohttp

from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import Answer, FakeUpstream, Reply
from lunaroute.testing._gateway import GatewayFactory

JSON = {"content-type": "application/json"}


async def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.post(url, data=body, headers={**JSON, **(headers or {})}) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, await response.read()


async def test_request_bytes_reach_upstream_unchanged(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    body = b'{ "messages" : [ {"role":"user","content":"h\\u00e9llo \\ud83d\\ude00"} ],\n "model":"claude-x", "max_tokens":5 }'
    status, _, _ = await post(f"{gw.url}/v1/messages?beta=true", body, {"anthropic-version": "2023-06-01"})
    assert status == 200
    received = upstream.last_request
    assert received.body == body
    assert received.path == "/v1/messages"
    assert received.query_string == "beta=true"


async def test_headers_forwarded_without_hop_by_hop(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    headers = {
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219",
        "x-stainless-lang": "python",
        "connection": "keep-alive, x-drop-me",
        "x-drop-me": "1",
        "x-lunaroute-provider": "anthropic",
    }
    await post(f"{gw.url}/v1/messages", b'{"model":"m","max_tokens":1,"messages":[]}', headers)
    received = upstream.last_request
    assert received.header("anthropic-beta") == "claude-code-20250219"
    assert received.header("x-stainless-lang") == "python"
    assert received.header("x-drop-me") is None
    assert received.header("x-lunaroute-provider") is None
    assert received.header("host") == f"127.0.0.1:{upstream.port}"


async def test_client_credentials_forwarded_by_default(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    await post(f"{gw.url}/v1/messages", b'{"model":"m"}', {"x-api-key": "client-key"})
    assert upstream.last_request.header("x-api-key") == "client-key"
    await post(f"{gw.url}/v1/messages", b'{"model":"m"}', {"authorization": "Bearer client-oauth"})
    assert upstream.last_request.header("authorization") == "Bearer client-oauth"
    await post(f"{gw.url}/v1/chat/completions", b'{"model":"m","messages":[]}', {"authorization": "Bearer sk-c"})
    assert upstream.last_request.header("authorization") == "Bearer sk-c"


async def test_server_key_replaces_both_client_headers(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(
        providers={"anthropic": {"api_key": "sk-ant-server"}, "openai": {"api_key": "sk-oai-server"}}
    )
    both = {"x-api-key": "client", "authorization": "Bearer client"}
    await post(f"{gw.url}/v1/messages", b'{"model":"m"}', both)
    received = upstream.last_request
    assert received.header("x-api-key") == "sk-ant-server"
    assert received.header("authorization") is None
    await post(f"{gw.url}/v1/chat/completions", b'{"model":"m","messages":[]}', both)
    received = upstream.last_request
    assert received.header("authorization") == "Bearer sk-oai-server"
    assert received.header("x-api-key") is None


async def test_upstream_errors_pass_through_unchanged(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    upstream.enqueue(Reply(status=429, retry_after="7", error_message="slow down"))
    status, headers, body = await post(f"{gw.url}/v1/chat/completions", b'{"model":"m","messages":[]}')
    assert status == 429
    assert headers["retry-after"] == "7"
    assert json.loads(body)["error"]["message"] == "slow down"
    assert len(upstream.requests) == 1  # never retried


async def test_non_stream_body_keeps_its_encoding(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    upstream.enqueue(Reply(gzip=True, answer=Answer(text="zipped")))
    status, headers, body = await post(
        f"{gw.url}/v1/chat/completions", b'{"model":"m","messages":[]}', {"accept-encoding": "gzip"}
    )
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    import gzip

    assert json.loads(gzip.decompress(body))["choices"][0]["message"]["content"] == "zipped"
    assert upstream.last_request.header("accept-encoding") == "gzip"


async def test_invalid_json_never_reaches_upstream(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    status, _, body = await post(f"{gw.url}/v1/chat/completions", b'{"model":')
    assert status == 400
    assert json.loads(body)["error"]["type"] == "invalid_request_error"
    status, _, body = await post(f"{gw.url}/v1/messages", b"\xff\xfe")
    assert status == 400
    assert json.loads(body) == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "the request body is not valid JSON"},
    }
    assert upstream.requests == []


async def test_wrong_content_type_and_method(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{gw.url}/v1/chat/completions", data=b"model=x", headers={"content-type": "text/plain"}
        ) as response:
            assert response.status == 415
            assert (await response.json())["error"]["code"] == "unsupported_media_type"
        async with session.get(f"{gw.url}/v1/messages") as response:
            assert response.status == 405
            assert (await response.json())["type"] == "error"
        async with session.get(f"{gw.url}/nowhere") as response:
            assert response.status == 404
    assert upstream.requests == []


async def test_bypass_goes_by_dialect(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    openai_up = upstream
    async with FakeUpstream() as anthropic_up:
        gw = await make_gateway(providers={"anthropic": {"base_url": anthropic_up.url}})
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{gw.url}/v1/files/f1", headers={"anthropic-version": "2023-06-01"}) as r:
                assert r.status == 200
            async with session.post(f"{gw.url}/v1/messages/batches", json={"requests": []}) as r:
                assert r.status == 200
            async with session.get(f"{gw.url}/v1/files/f2") as r:
                assert r.status == 200
        assert [r.path for r in anthropic_up.requests] == ["/v1/files/f1", "/v1/messages/batches"]
        assert [r.path for r in openai_up.requests] == ["/v1/files/f2"]


async def test_bypass_disabled(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(bypass={"enabled": False})
    async with aiohttp.ClientSession() as session, session.get(f"{gw.url}/v1/files") as response:
        assert response.status == 404
    assert upstream.requests == []


async def test_provider_model_rewrites_the_body_model(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(providers={"openai": {"model": "served-model"}})
    body = b'{"model":"asked","messages":[{"role":"user","content":"x"}]}'
    await post(f"{gw.url}/v1/chat/completions", body)
    sent = upstream.last_request.json()
    assert sent == {"model": "served-model", "messages": [{"role": "user", "content": "x"}]}


async def test_provider_header_selects_a_configured_provider(
    upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    gw = await make_gateway(providers={"demo": {"provider_type": "mock", "mock": {"response_text": "mocked"}}})
    status, headers, body = await post(
        f"{gw.url}/v1/chat/completions", b'{"model":"m","messages":[]}', {"x-lunaroute-provider": "demo"}
    )
    assert status == 200
    assert headers["x-lunaroute-provider"] == "demo"
    assert json.loads(body)["choices"][0]["message"]["content"] == "mocked"
    status, _, body = await post(
        f"{gw.url}/v1/chat/completions", b'{"model":"m","messages":[]}', {"x-lunaroute-provider": "http://evil"}
    )
    assert status == 400
    assert json.loads(body)["error"]["param"] == "x-lunaroute-provider"
    assert upstream.requests == []


async def test_root_health_ready_metrics(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    async with aiohttp.ClientSession() as session:
        async with session.head(f"{gw.url}/") as response:
            assert response.status == 200
        async with session.get(f"{gw.url}/healthz") as response:
            assert await response.json() == {"status": "ok"}
        async with session.get(f"{gw.url}/readyz") as response:
            ready = await response.json()
            assert ready["status"] == "ready"
            assert set(ready["providers"]) == {"openai", "anthropic"}
        await session.post(f"{gw.url}/v1/chat/completions", json={"model": "m", "messages": []})
        async with session.get(f"{gw.url}/metrics") as response:
            text = await response.text()
    assert (
        'lunaroute_requests_total{endpoint="openai.chat_completions",listener="openai",provider="openai",'
        'status="200",streaming="false"} 1.0' in text
    )
    assert "lunaroute_request_duration_seconds_bucket" in text
    assert "lunaroute_gateway_overhead_seconds_count" in text


async def test_readyz_without_providers(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(providers={"openai": {"enabled": False}, "anthropic": {"enabled": False}})
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.url}/readyz") as response:
            assert response.status == 503
        async with session.post(f"{gw.url}/v1/messages", json={"model": "m"}) as response:
            assert response.status == 404
            assert (await response.json())["error"]["type"] == "not_found_error"


async def test_query_string_is_forwarded_raw(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    async with aiohttp.ClientSession() as session:
        url = f"{gw.url}/v1/models?after=a%26b%3Dc&limit=2"
        async with session.get(aiohttp.client.URL(url, encoded=True)) as response:
            assert response.status == 200
    assert upstream.last_request.query_string == "after=a%26b%3Dc&limit=2"


async def test_request_id_is_kept_sent_upstream_and_returned(
    upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    gw = await make_gateway()
    status, headers, _ = await post(
        f"{gw.url}/v1/chat/completions", b'{"model":"m","messages":[]}', {"x-request-id": "abc-123"}
    )
    assert status == 200
    assert upstream.last_request.header("x-request-id") == "abc-123"
    assert headers["x-request-id"] == "abc-123"
    assert headers["x-lunaroute-request-id"] != "abc-123"  # the record's identity is always the gateway's own
    assert float(headers["x-lunaroute-overhead-ms"]) >= 0
    _, headers, _ = await post(
        f"{gw.url}/v1/chat/completions", b'{"model":"m","messages":[]}', {"x-request-id": "bad id!"}
    )
    generated = headers["x-lunaroute-request-id"]
    assert generated != "bad id!"
    assert upstream.last_request.header("x-request-id") == generated
    status, headers, _ = await post(f"{gw.url}/v1/chat/completions", b"{", {"x-request-id": "err-1"})
    assert status == 400
    assert headers["x-request-id"] == "err-1"
    assert headers["x-lunaroute-request-id"] not in ("err-1", generated)


async def test_bodies_and_paths_no_provider_accepts_get_400_without_an_upstream_call(
    upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    gw = await make_gateway()
    anthropic = {"anthropic-version": "2023-06-01"}
    cases = [
        ("/v1/chat/completions", b'{"model":"m","messages":[{"role":"user","content":"\xff"}]}', {}),
        ("/v1/messages", b'{"model":"m","max_tokens":1e999999,"messages":[]}', anthropic),
        ("/v1/chat/completions", b'{"model":"m","n":' + b"7" * 5000 + b',"messages":[]}', {}),
        ("/v1/chat/completions%00", b'{"model":"m","messages":[]}', {}),
        ("/v1/messages%00", b'{"model":"m","max_tokens":1,"messages":[]}', anthropic),
    ]
    for path, body, headers in cases:
        status, _, answer = await post(f"{gw.url}{path}", body, headers)
        assert status == 400, path
        error = json.loads(answer)
        if headers:
            assert error["type"] == "error"
            assert error["error"]["type"] == "invalid_request_error"
        else:
            assert error["error"]["type"] == "invalid_request_error"
    assert upstream.requests == []


async def test_exchanges_sharing_a_client_request_id_are_recorded_apart(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gw = await make_gateway(
        session_recording={
            "jsonl": {"directory": str(tmp_path / "sessions")},
            "sqlite": {"path": str(tmp_path / "sessions.db")},
            "journal_directory": str(tmp_path / "journal"),
        }
    )
    upstream.enqueue(Reply(answer=Answer(text="first answer")), Reply(answer=Answer(text="second answer")))
    ids = []
    for _ in range(2):
        status, headers, _ = await post(
            f"{gw.url}/v1/chat/completions",
            b'{"model":"m","messages":[{"role":"user","content":"hi"}]}',
            {"x-request-id": "same-id", "session_id": "sess-dup"},
        )
        assert status == 200
        assert headers["x-request-id"] == "same-id"
        ids.append(headers["x-lunaroute-request-id"])
    assert len(set(ids)) == 2
    assert gw.app is not None
    capture = gw.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()
    with sqlite3.connect(tmp_path / "sessions.db") as db:
        rows = db.execute("SELECT request_id FROM session_stats WHERE session_id = 'sess-dup'").fetchall()
    assert sorted(r[0] for r in rows) == sorted(ids)
    [path] = (tmp_path / "sessions").rglob("sess-dup.jsonl")
    text = path.read_text()
    assert "first answer" in text
    assert "second answer" in text
