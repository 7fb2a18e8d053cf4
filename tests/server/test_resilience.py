"""Fallbacks, retries, breakers and timeouts under faults injected by the fake upstream (scenarios 49-61)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, GatewayServer, Reply

CHAT = {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}
STREAM = {**CHAT, "stream": True}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def backup() -> Any:
    async with FakeUpstream(max_reply_seconds=10.0) as up:
        yield up


async def chain_gateway(
    make_gateway: GatewayFactory,
    primary_url: str,
    backup: FakeUpstream | None,
    *,
    primary: dict[str, Any] | None = None,
    routing: dict[str, Any] | None = None,
) -> GatewayServer:
    providers: dict[str, Any] = {"main": {"provider_type": "openai", "base_url": primary_url, **(primary or {})}}
    fallbacks = []
    if backup is not None:
        providers["spare"] = {"provider_type": "openai", "base_url": backup.openai_base_url}
        fallbacks = ["spare"]
    rules = [{"name": "all", "primary": "main", "fallbacks": fallbacks}]
    return await make_gateway(providers=providers, routing={"rules": rules, **(routing or {})})


async def post(gw: GatewayServer, body: dict[str, Any], timeout: float = 15.0) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{gw.url}/v1/chat/completions", json=body, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, await response.read()


async def metrics(gw: GatewayServer) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{gw.url}/metrics") as response:
        return await response.text()


def text_of(body: bytes) -> str:
    return str(json.loads(body)["choices"][0]["message"]["content"])


def stream_text(body: bytes) -> str:
    out = ""
    for line in body.split(b"\n"):
        if line.startswith(b"data: {"):
            chunk = json.loads(line[6:])
            for choice in chunk.get("choices", []):
                out += choice["delta"].get("content") or ""
    return out


# -- connection refused / hang (49, 50) ----------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_connection_refused_falls_back(make_gateway: GatewayFactory, backup: FakeUpstream, stream: bool) -> None:
    gw = await chain_gateway(make_gateway, f"http://127.0.0.1:{closed_port()}/v1", backup)
    backup.enqueue(Reply(answer=Answer(text="from the spare")))
    status, headers, body = await post(gw, STREAM if stream else CHAT)
    assert status == 200
    assert headers["x-lunaroute-provider"] == "spare"
    assert (stream_text(body) if stream else text_of(body)) == "from the spare"
    assert 'lunaroute_fallbacks_total{from_provider="main",reason="connect_error",to_provider="spare"} 1.0' in (
        await metrics(gw)
    )


async def test_connection_refused_without_fallback_is_502(make_gateway: GatewayFactory) -> None:
    gw = await chain_gateway(make_gateway, f"http://127.0.0.1:{closed_port()}/v1", None)
    status, _, body = await post(gw, CHAT)
    assert status == 502
    assert json.loads(body)["error"]["code"] == "upstream_unreachable"


async def test_connect_hang_times_out_then_falls_back(make_gateway: GatewayFactory, backup: FakeUpstream) -> None:
    # A listening socket that never accepts: the TCP handshake completes in the backlog, the head never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(0)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        gw = await chain_gateway(make_gateway, url, backup, primary={"http_client": {"timeout_secs": 0.5}})
        started = time.monotonic()
        status, headers, _ = await post(gw, CHAT)
    assert status == 200
    assert headers["x-lunaroute-provider"] == "spare"
    assert time.monotonic() - started < 5


# -- statuses before the first byte (51, 52) ------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 529])
async def test_5xx_falls_back(
    upstream: FakeUpstream, make_gateway: GatewayFactory, backup: FakeUpstream, status: int
) -> None:
    gw = await chain_gateway(make_gateway, upstream.openai_base_url, backup)
    upstream.enqueue(Reply(status=status))
    backup.enqueue(Reply(answer=Answer(text="spare")))
    code, headers, _ = await post(gw, CHAT)
    assert code == 200
    assert headers["x-lunaroute-provider"] == "spare"
    assert len(upstream.requests) == 1
    assert len(backup.requests) == 1


async def test_5xx_without_fallback_is_passed_through(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await chain_gateway(make_gateway, upstream.openai_base_url, None)
    upstream.enqueue(Reply(status=503, error_message="busy upstream"))
    status, _, body = await post(gw, CHAT)
    assert status == 503
    assert json.loads(body)["error"]["message"] == "busy upstream"
    assert len(upstream.requests) == 1


async def test_429_retry_after_is_honoured(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await chain_gateway(make_gateway, upstream.openai_base_url, None, primary={"http_client": {"max_retries": 2}})
    upstream.enqueue(Reply(status=429, retry_after="1"), Reply(answer=Answer(text="after the wait")))
    started = time.monotonic()
    status, _, body = await post(gw, CHAT)
    assert status == 200
    assert text_of(body) == "after the wait"
    assert len(upstream.requests) == 2
    assert upstream.requests[1].received_at - upstream.requests[0].received_at >= 0.9
    assert time.monotonic() - started < 5
    assert 'lunaroute_retries_total{provider="main",reason="rate_limited"} 1.0' in await metrics(gw)


async def test_retry_after_beyond_the_cap_is_not_waited_for(
    upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    gw = await chain_gateway(
        make_gateway,
        upstream.openai_base_url,
        None,
        primary={"http_client": {"max_retries": 2, "max_retry_after_secs": 2}},
    )
    upstream.enqueue(Reply(status=429, retry_after="30", error_message="wait a lot"))
    started = time.monotonic()
    status, headers, _ = await post(gw, CHAT)
    assert status == 429
    assert headers["retry-after"] == "30"
    assert len(upstream.requests) == 1
    assert time.monotonic() - started < 2


async def test_quota_429_is_never_retried_but_fails_over(
    upstream: FakeUpstream, make_gateway: GatewayFactory, backup: FakeUpstream
) -> None:
    quota = Reply(status=429, error_type="insufficient_quota", error_message="You exceeded your current quota.")
    gw = await chain_gateway(make_gateway, upstream.openai_base_url, None, primary={"http_client": {"max_retries": 3}})
    upstream.enqueue(quota)
    status, _, _ = await post(gw, CHAT)
    assert status == 429
    assert len(upstream.requests) == 1
    gw2 = await chain_gateway(
        make_gateway, upstream.openai_base_url, backup, primary={"http_client": {"max_retries": 3}}
    )
    upstream.enqueue(quota)
    status, headers, _ = await post(gw2, CHAT)
    assert status == 200
    assert headers["x-lunaroute-provider"] == "spare"
    assert len(upstream.requests) == 2


async def test_client_errors_are_answers_not_failures(
    upstream: FakeUpstream, make_gateway: GatewayFactory, backup: FakeUpstream
) -> None:
    gw = await chain_gateway(make_gateway, upstream.openai_base_url, backup)
    upstream.enqueue(Reply(status=400, error_message="bad field"))
    status, _, body = await post(gw, CHAT)
    assert status == 400
    assert json.loads(body)["error"]["message"] == "bad field"
    assert backup.requests == []


# -- stream faults (53-58) ------------------------------------------------------------------------------------


async def test_first_event_error_fails_over(
    upstream: FakeUpstream, make_gateway: GatewayFactory, backup: FakeUpstream
) -> None:
    gw = await chain_gateway(make_gateway, upstream.openai_base_url, backup)
    upstream.enqueue(Reply(error_after_chunks=0, error_type="server_error", error_message="overloaded"))
    backup.enqueue(Reply(answer=Answer(text="clean stream")))
    status, headers, body = await post(gw, STREAM)
    assert status == 200
    assert headers["x-lunaroute-provider"] == "spare"
    assert stream_text(body) == "clean stream"
    assert b"overloaded" not in body


async def test_reset_mid_stream_is_not_retried(
    upstream: FakeUpstream, make_gateway: GatewayFactory, backup: FakeUpstream
) -> None:
    gw = await chain_gateway(
        make_gateway, upstream.openai_base_url, backup, primary={"http_client": {"max_retries": 2}}
    )
    upstream.enqueue(Reply(answer=Answer(text="partial answer here"), reset_after_chunks=3))
    status, _, body = await post(gw, STREAM)
    assert status == 200
    assert len(upstream.requests) == 1
    assert backup.requests == []
    last = [line for line in body.split(b"\n") if line.startswith(b"data: ")][-1]
    assert json.loads(last[6:])["error"]["type"] == "api_error"


async def test_stall_mid_stream_hits_the_idle_timeout(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await chain_gateway(
        make_gateway, upstream.openai_base_url, None, primary={"http_client": {"idle_timeout_secs": 0.4}}
    )
    upstream.enqueue(Reply(first_chunk_then_stall=5.0))
    started = time.monotonic()
    status, _, body = await post(gw, STREAM)
    assert status == 200
    assert time.monotonic() - started < 3
    last = [line for line in body.split(b"\n") if line.startswith(b"data: ")][-1]
    assert json.loads(last[6:])["error"]["code"] == "upstream_timeout"


async def test_drip_is_cut_by_the_total_deadline(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await chain_gateway(
        make_gateway, upstream.openai_base_url, None, primary={"http_client": {"total_timeout_secs": 1.0}}
    )
    upstream.enqueue(Reply(drip=0.05))
    started = time.monotonic()
    status, _, body = await post(gw, STREAM)
    assert time.monotonic() - started < 4
    assert status in (200, 504)
    assert b"upstream_timeout" in body


async def test_slow_first_byte_gets_keepalives_then_504(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await chain_gateway(
        make_gateway, upstream.openai_base_url, None, primary={"http_client": {"first_byte_timeout_secs": 0.6}}
    )
    upstream.enqueue(Reply(delay_before_headers=3.0))
    status, _, body = await post(gw, STREAM)
    assert status == 504
    assert json.loads(body)["error"]["code"] == "upstream_timeout"


# -- HTML error page (60) --------------------------------------------------------------------------------------


async def test_html_page_is_a_sanitised_502(
    upstream: FakeUpstream, make_gateway: GatewayFactory, backup: FakeUpstream
) -> None:
    gw = await chain_gateway(make_gateway, upstream.openai_base_url, None)
    upstream.enqueue(Reply(content_type="text/html"))
    status, _, body = await post(gw, CHAT)
    assert status == 502
    assert b"<html" not in body.lower()
    gw2 = await chain_gateway(make_gateway, upstream.openai_base_url, backup)
    upstream.enqueue(Reply(content_type="text/html"))
    status, headers, _ = await post(gw2, CHAT)
    assert status == 200
    assert headers["x-lunaroute-provider"] == "spare"


# -- breaker ---------------------------------------------------------------------------------------------------


async def test_open_breaker_skips_the_provider(
    upstream: FakeUpstream, make_gateway: GatewayFactory, backup: FakeUpstream
) -> None:
    gw = await chain_gateway(
        make_gateway,
        upstream.openai_base_url,
        backup,
        routing={"circuit_breaker": {"failure_threshold": 2, "cooldown_secs": 60}},
    )
    upstream.default = Reply(status=503)
    for _ in range(2):
        status, _, _ = await post(gw, CHAT)
        assert status == 200
    assert len(upstream.requests) == 2
    for _ in range(3):
        status, headers, _ = await post(gw, CHAT)
        assert headers["x-lunaroute-provider"] == "spare"
    assert len(upstream.requests) == 2  # skipped at no cost while open
    text = await metrics(gw)
    assert 'lunaroute_breaker_state{provider="main"} 2.0' in text
    assert 'lunaroute_breaker_transitions_total{from_state="closed",provider="main",to_state="open"} 1.0' in text
    async with aiohttp.ClientSession() as session, session.get(f"{gw.url}/readyz") as response:
        ready = await response.json()
    assert ready["status"] == "ready"
    assert ready["providers"]["main"]["breaker"] == "open"
    assert ready["providers"]["spare"]["breaker"] == "closed"


async def test_streams_broken_off_mid_way_open_the_breaker(
    upstream: FakeUpstream, make_gateway: GatewayFactory, backup: FakeUpstream
) -> None:
    gw = await chain_gateway(
        make_gateway,
        upstream.openai_base_url,
        backup,
        primary={"http_client": {"idle_timeout_secs": 0.4}},
        routing={"circuit_breaker": {"failure_threshold": 2, "cooldown_secs": 60}},
    )
    upstream.enqueue(Reply(reset_after_chunks=2), Reply(first_chunk_then_stall=5.0))
    for _ in range(2):
        status, headers, body = await post(gw, STREAM)
        assert (status, headers["x-lunaroute-provider"]) == (200, "main")  # the head was a success...
        assert b'"error"' in body  # ...the stream was not
    status, headers, _ = await post(gw, STREAM)
    assert (status, headers["x-lunaroute-provider"]) == (200, "spare")
    assert len(upstream.requests) == 2
    text = await metrics(gw)
    assert 'lunaroute_breaker_state{provider="main"} 2.0' in text


async def test_whole_streams_and_clients_leaving_do_not_count_against_the_provider(
    upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    gw = await chain_gateway(
        make_gateway,
        upstream.openai_base_url,
        None,
        routing={"circuit_breaker": {"failure_threshold": 1, "cooldown_secs": 60}},
    )
    upstream.enqueue(Reply(first_chunk_then_stall=5.0))
    async with aiohttp.ClientSession() as session:
        response = await session.post(f"{gw.url}/v1/chat/completions", json=STREAM)
        await response.content.readany()
        response.close()  # the client leaves mid-stream
    await asyncio.sleep(0.3)
    for _ in range(3):
        status, _, body = await post(gw, STREAM)
        assert status == 200
        assert b'"error"' not in body
    text = await metrics(gw)
    assert 'lunaroute_breaker_state{provider="main"} 0.0' in text


async def test_all_breakers_open_is_503_with_retry_after(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await chain_gateway(
        make_gateway,
        upstream.openai_base_url,
        None,
        routing={"circuit_breaker": {"failure_threshold": 1, "cooldown_secs": 9}},
    )
    upstream.default = Reply(status=500)
    await post(gw, CHAT)
    status, headers, body = await post(gw, CHAT)
    assert status == 503
    assert headers["retry-after"] == "9"
    assert "circuit open" in json.loads(body)["error"]["message"]
    assert len(upstream.requests) == 1


# -- strategies and notification -------------------------------------------------------------------------------


async def test_round_robin_spreads_requests(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(
        providers={
            "a": {"provider_type": "mock", "mock": {"response_text": "A"}},
            "b": {"provider_type": "mock", "mock": {"response_text": "B"}},
        },
        routing={"rules": [{"name": "rr", "primary": "a", "fallbacks": ["b"], "strategy": "round_robin"}]},
    )
    served = [(await post(gw, CHAT))[1]["x-lunaroute-provider"] for _ in range(10)]
    assert served.count("a") == 5
    assert served.count("b") == 5


async def test_sticky_sessions_keep_a_conversation_on_one_provider(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(
        providers={"a": {"provider_type": "mock"}, "b": {"provider_type": "mock"}},
        routing={
            "rules": [
                {"name": "rr", "primary": "a", "fallbacks": ["b"], "strategy": "round_robin", "sticky_sessions": True}
            ]
        },
    )
    async with aiohttp.ClientSession() as session:
        served = []
        for i in range(6):
            async with session.post(
                f"{gw.url}/v1/chat/completions", json=CHAT, headers={"session_id": f"s{i % 2}"}
            ) as response:
                served.append((i % 2, response.headers["x-lunaroute-provider"]))
    by_session = {s: {p for (k, p) in served if k == s} for s in (0, 1)}
    assert all(len(providers) == 1 for providers in by_session.values())


async def _served_by(gw: GatewayServer, path: str, body: dict[str, Any], headers: dict[str, str]) -> str:
    async with aiohttp.ClientSession() as session, session.post(f"{gw.url}{path}", json=body, headers=headers) as r:
        assert r.status == 200
        await r.read()
        return r.headers["x-lunaroute-provider"]


async def test_sticky_sessions_hold_for_every_session_header_and_the_anthropic_user_id(
    make_gateway: GatewayFactory,
) -> None:
    """Consecutive requests of one conversation stay on one provider, where round robin alone would alternate."""
    gw = await make_gateway(
        providers={"a": {"provider_type": "mock"}, "b": {"provider_type": "mock"}},
        routing={
            "rules": [
                {"name": "rr", "primary": "a", "fallbacks": ["b"], "strategy": "round_robin", "sticky_sessions": True}
            ]
        },
    )
    # Without a session the rule is plain round robin: consecutive requests alternate.
    plain = [await _served_by(gw, "/v1/chat/completions", CHAT, {}) for _ in range(4)]
    assert len(set(plain)) == 2
    for name in ("session_id", "session-id", "x-session-id", "Session_Id"):
        served = [await _served_by(gw, "/v1/chat/completions", CHAT, {name: f"conv-{name}"}) for _ in range(4)]
        assert len(set(served)) == 1, (name, served)
    messages = {
        "model": "claude-x",
        "max_tokens": 5,
        "metadata": {"user_id": "user_abc_session_123"},
        "messages": [{"role": "user", "content": "hi"}],
    }
    served = [await _served_by(gw, "/v1/messages", messages, {}) for _ in range(4)]
    assert len(set(served)) == 1, served


async def test_switch_notification_reaches_the_fallback(
    upstream: FakeUpstream, make_gateway: GatewayFactory, backup: FakeUpstream
) -> None:
    gw = await chain_gateway(
        make_gateway, upstream.openai_base_url, backup, routing={"provider_switch_notification": {"enabled": True}}
    )
    upstream.enqueue(Reply(status=503))
    await post(gw, CHAT)
    messages = backup.last_request.json()["messages"]
    assert messages[0]["role"] == "system"
    assert "main" in messages[0]["content"]
    assert "spare" in messages[0]["content"]
    assert "IMPORTANT" not in json.dumps(upstream.last_request.json())


async def test_breaker_admits_probes_under_concurrency(make_gateway: GatewayFactory) -> None:
    """Half-open, the breaker lets `half_open_max_probes` requests through and refuses the rest while the probe
    is out. The probe's upstream answers only once every other request was refused, so timing cannot decide."""
    release = asyncio.Event()
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        await request.read()
        if calls == 1:
            return web.json_response({"error": {"message": "boom", "type": "server_error"}}, status=500)
        await release.wait()
        answer = {
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-x",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        }
        return web.json_response(answer)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    async with TestServer(app) as held:
        gw = await chain_gateway(
            make_gateway,
            str(held.make_url("/v1")),
            None,
            routing={"circuit_breaker": {"failure_threshold": 1, "cooldown_secs": 0.3, "half_open_max_probes": 1}},
        )
        assert (await post(gw, CHAT))[0] == 500
        await asyncio.sleep(0.4)  # past the cool-down: half-open
        tasks = [asyncio.create_task(post(gw, CHAT, timeout=45)) for _ in range(20)]
        done: set[asyncio.Task[tuple[int, dict[str, str], bytes]]] = set()
        async with asyncio.timeout(30):
            while len(done) < 19:
                finished, _ = await asyncio.wait(set(tasks) - done, return_when=asyncio.FIRST_COMPLETED)
                done |= finished
        assert sorted(t.result()[0] for t in done) == [503] * 19
        release.set()
        [probe] = set(tasks) - done
        assert (await probe)[0] == 200
    assert calls == 2


async def test_retry_after_beyond_the_deadline_passes_the_error_on(
    upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    gw = await chain_gateway(
        make_gateway,
        upstream.openai_base_url,
        None,
        primary={"http_client": {"max_retries": 2, "total_timeout_secs": 2.0}},
    )
    upstream.enqueue(Reply(status=429, retry_after="5", error_message="later"))
    started = time.monotonic()
    status, headers, body = await post(gw, CHAT)
    assert status == 429
    assert headers["retry-after"] == "5"
    assert json.loads(body)["error"]["message"] == "later"
    assert len(upstream.requests) == 1
    assert time.monotonic() - started < 1.5


async def test_a_retry_the_breaker_stops_still_answers(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    gw = await chain_gateway(
        make_gateway,
        upstream.openai_base_url,
        None,
        primary={"http_client": {"max_retries": 1, "retry_base_delay_ms": 50, "retry_max_delay_ms": 50}},
        routing={"circuit_breaker": {"failure_threshold": 1, "cooldown_secs": 60}},
    )
    upstream.enqueue(Reply(status=503, error_message="down"))
    status, _, body = await post(gw, CHAT)
    assert status == 503
    assert json.loads(body)["error"]["message"] == "down"
    assert len(upstream.requests) == 1


async def error_of(gw: GatewayServer) -> tuple[int, str]:
    status, _, body = await post(gw, CHAT)
    return status, str(json.loads(body)["error"]["message"])


async def test_a_502_names_the_provider_and_the_cause_and_logs_one_warning(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    port = closed_port()
    gw = await chain_gateway(make_gateway, f"http://127.0.0.1:{port}/v1", None)
    with caplog.at_level("WARNING", logger="lunaroute.providers"):
        status, message = await error_of(gw)
        assert (status, message) == (
            502,
            f"provider 'main' at 127.0.0.1:{port} could not be reached: connection refused",
        )
        await error_of(gw)
    warnings = [r for r in caplog.records if r.name == "lunaroute.providers"]
    assert [r.getMessage() for r in warnings] == [message]  # the second failure, within 10 s, is not logged


async def test_a_tls_failure_is_named(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    plain = upstream.openai_base_url.replace("http://", "https://")
    gw = await chain_gateway(make_gateway, plain, None)
    status, message = await error_of(gw)
    assert status == 502
    assert message.startswith("provider 'main' at 127.0.0.1:")
    assert "TLS" in message
