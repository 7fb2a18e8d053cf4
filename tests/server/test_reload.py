"""Config hot reload on a real gateway: in-flight requests finish on their config, route changes apply, a bad
file keeps the running config and says why, unchanged providers keep their pool; SIGHUP, `lunaroute reload`
and the file watch each trigger it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import openai
import pytest
import yaml
from tests.server._process import serve_in_process

from lunaroute.config import BypassConfig, Config, LoggingConfig, ReloadConfig, RoutingConfig, load_config
from lunaroute.scrub import MASK
from lunaroute.server import ConfigSource
from lunaroute.server._gateway import GATEWAY
from lunaroute.server._reload import restart_only_changes
from lunaroute.testing import Answer, FakeUpstream, Reply
from lunaroute.testing._gateway import GatewayServer

ADMIN = "admin-secret-0123456789"


def _mock(text: str, latency_ms: float = 0) -> dict[str, Any]:
    return {"provider_type": "mock", "mock": {"response_text": text, "latency_ms": latency_ms, "stream_chunks": 1}}


def _config(tmp_path: Path, providers: dict[str, Any], rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "providers": {"openai": {"enabled": False}, "anthropic": {"enabled": False}, **providers},
        "routing": {"rules": rules or []},
        "session_recording": {"enabled": False},
        "auth": {"admin_key": ADMIN, "database": str(tmp_path / "keys.db")},
        "reload": {"watch": False},
    }


def _write(path: Path, raw: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Any]:
    """`await start(raw)`: write `raw` to a config file and serve it in this loop, reloadable from that file."""
    servers: list[GatewayServer] = []
    path = tmp_path / "lunaroute.yaml"

    async def starter(raw: dict[str, Any]) -> tuple[GatewayServer, Path]:
        _write(path, raw)
        server = GatewayServer(load_config(path, {}), env={}, source=ConfigSource(path, env={}))
        await server.start()
        servers.append(server)
        return server, path

    yield starter
    for server in servers:
        await server.stop()


async def _ask(gw: GatewayServer, model: str = "gpt-test") -> str:
    client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="k", max_retries=0)
    try:
        answer = await client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    finally:
        await client.close()
    return answer.choices[0].message.content or ""


async def _admin(gw: GatewayServer, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    headers = {"authorization": f"Bearer {ADMIN}"}
    async with aiohttp.ClientSession(headers=headers) as http, http.request(method, gw.url + path, **kwargs) as r:
        return r.status, await r.json()


async def test_a_request_in_flight_finishes_on_the_config_it_started_with(start: Any, tmp_path: Path) -> None:
    raw = _config(tmp_path, {"m": _mock("old answer", latency_ms=2000)})
    gw, path = await start(raw)
    slow = asyncio.create_task(_ask(gw))
    for _ in range(200):  # until the request is with the provider (in the mock's latency)
        _, providers = await _admin(gw, "GET", "/admin/providers")
        if providers["data"][0]["in_flight"] == 1:
            break
        await asyncio.sleep(0.01)
    _write(path, _config(tmp_path, {"m": _mock("new answer")}))
    status, body = await _admin(gw, "POST", "/admin/reload")
    assert status == 200, body
    assert body["reload"]["last_result"] == "ok"
    assert not slow.done()
    assert await _ask(gw) == "new answer"
    assert await slow == "old answer"


async def test_a_route_change_takes_effect(start: Any, tmp_path: Path) -> None:
    providers = {"a": _mock("from a"), "b": _mock("from b")}
    gw, path = await start(_config(tmp_path, providers, [{"name": "gpt", "model_pattern": "^gpt", "primary": "a"}]))
    assert await _ask(gw) == "from a"
    _write(path, _config(tmp_path, providers, [{"name": "gpt", "model_pattern": "^gpt", "primary": "b"}]))
    status, _ = await _admin(gw, "POST", "/admin/reload")
    assert status == 200
    assert await _ask(gw) == "from b"
    status, route = await _admin(gw, "POST", "/admin/route", json={"model": "gpt-4o", "dialect": "openai"})
    assert status == 200
    assert [step["provider"] for step in route["chain"]] == ["b"]
    assert route["rule"] == "gpt"


async def test_a_bad_file_keeps_the_running_config_and_reports_the_error(start: Any, tmp_path: Path) -> None:
    gw, path = await start(_config(tmp_path, {"m": _mock("running")}))
    bad = _config(tmp_path, {"m": _mock("never served")})
    bad["routing"]["rules"] = [{"name": "r", "model_pattern": "gpt", "primary": "nowhere"}]
    _write(path, bad)
    status, body = await _admin(gw, "POST", "/admin/reload")
    assert status == 422
    assert body["error"]["type"] == "config_error"
    assert "nowhere" in body["error"]["message"]
    assert str(path) in body["error"]["message"]
    assert await _ask(gw) == "running"
    status, shown = await _admin(gw, "GET", "/admin/config")
    assert status == 200
    assert shown["reload"]["last_result"] == "error"
    assert shown["reload"]["last_error"] == body["error"]["message"]
    assert shown["reload"]["reloads"] == 0
    assert shown["config"]["providers"]["m"]["mock"]["response_text"] == "running"
    async with aiohttp.ClientSession() as http, http.get(f"{gw.url}/metrics") as r:
        metrics = await r.text()
    assert 'lunaroute_config_reloads_total{result="error"} 1.0' in metrics


async def test_a_key_read_only_at_start_up_is_named_and_nothing_changes(start: Any, tmp_path: Path) -> None:
    gw, path = await start(_config(tmp_path, {"m": _mock("running")}))
    changed = _config(tmp_path, {"m": _mock("new")})
    changed["port"] = 1
    changed["session_recording"] = {"enabled": False, "jsonl": {"directory": str(tmp_path / "elsewhere")}}
    _write(path, changed)
    status, body = await _admin(gw, "POST", "/admin/reload")
    assert status == 422
    message = body["error"]["message"]
    assert "cannot change without a restart" in message
    assert "port" in message
    assert "session_recording.jsonl.directory" in message
    assert str(tmp_path / "elsewhere") not in message  # keys are named, values are not shown
    assert await _ask(gw) == "running"


async def test_unchanged_providers_keep_their_pool_and_replaced_ones_close(
    start: Any, tmp_path: Path, upstream: FakeUpstream
) -> None:
    def raw(connect_timeout: float) -> dict[str, Any]:
        providers = {
            "kept": {"provider_type": "openai", "base_url": f"{upstream.url}/v1"},
            "changed": {
                "provider_type": "openai",
                "base_url": f"{upstream.url}/v1",
                "http_client": {"connect_timeout_secs": connect_timeout},
            },
        }
        rules = [
            {"name": "c", "model_pattern": "^changed", "primary": "changed"},
            {"name": "k", "model_pattern": "^gpt", "primary": "kept"},
        ]
        return _config(tmp_path, providers, rules)

    gw, path = await start(raw(10))
    await _ask(gw, "gpt-test")
    await _ask(gw, "changed-model")
    assert gw.app is not None
    before = gw.app[GATEWAY].runtime.pipeline.router.providers
    kept, changed = before["kept"], before["changed"]
    session = kept._session  # type: ignore[attr-defined]
    assert session is not None
    assert changed._session is not None  # type: ignore[attr-defined]
    _write(path, raw(5))
    status, _ = await _admin(gw, "POST", "/admin/reload")
    assert status == 200
    after = gw.app[GATEWAY].runtime.pipeline.router.providers
    assert after["kept"] is kept
    assert kept._session is session  # type: ignore[attr-defined]
    assert after["changed"] is not changed
    for _ in range(100):  # the retired runtime had no request left: its provider closes at once
        if changed._session is None:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.02)
    assert changed._session is None  # type: ignore[attr-defined]
    assert await _ask(gw, "gpt-test")
    assert kept._session is session  # type: ignore[attr-defined]


async def test_providers_show_health_breaker_and_in_flight(start: Any, tmp_path: Path) -> None:
    gw, _ = await start(_config(tmp_path, {"m": _mock("hello")}))
    await _ask(gw)
    status, body = await _admin(gw, "GET", "/admin/providers")
    assert status == 200
    (provider,) = body["data"]
    assert provider["name"] == "m"
    assert provider["breaker"] == "closed"
    assert provider["in_flight"] == 0
    assert provider["health"]["requests"] == 1
    assert provider["last_error"] is None


async def test_the_config_is_shown_with_its_secrets_masked(start: Any, tmp_path: Path) -> None:
    secret = "sk-test-0123456789abcdefghijklmnop"
    header_secret = "hdr-0123456789abcdefghijkl"
    raw = _config(tmp_path, {"m": _mock("x")})
    raw["providers"]["up"] = {
        "provider_type": "openai",
        "base_url": "http://127.0.0.1:9/v1",
        "api_key": secret,
        "request_headers": {"x-upstream-auth": f"Bearer {header_secret}"},
    }
    gw, _ = await start(raw)
    status, body = await _admin(gw, "GET", "/admin/config")
    assert status == 200
    text = str(body)
    assert secret not in text
    assert header_secret not in text
    assert ADMIN not in text
    assert body["config"]["auth"]["admin_key"] == "****"
    assert body["reload"]["source"].endswith("lunaroute.yaml")


def _reload_cli(config: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LUNAROUTE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "lunaroute", "reload", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


async def _until_answer(url: str, wanted: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
    text = ""
    try:
        while time.monotonic() < deadline:
            answer = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
            text = answer.choices[0].message.content or ""
            if text == wanted:
                break
            await asyncio.sleep(0.1)
    finally:
        await client.close()
    return text


def _process_yaml(text: str, *, watch: bool) -> str:
    return (
        "providers: {openai: {enabled: false}, anthropic: {enabled: false},"
        f" m: {{provider_type: mock, mock: {{response_text: {text}}}}}}}\n"
        "session_recording: {enabled: false}\n"
        f"reload: {{watch: {str(watch).lower()}, debounce_ms: 50}}\n"
    )


async def test_sighup_from_lunaroute_reload_reloads_a_gateway_process(tmp_path: Path) -> None:
    with serve_in_process(_process_yaml("one", watch=False), tmp_path) as url:
        assert await _until_answer(url, "one") == "one"
        config = tmp_path / "gateway.yaml"
        port_line = config.read_text().splitlines()[0]
        config.write_text(f"{port_line}\n{_process_yaml('two', watch=False)}")
        done = await asyncio.to_thread(_reload_cli, config, tmp_path / "gateway-home")
        assert done.returncode == 0, done.stderr
        assert "sent SIGHUP" in done.stdout
        assert await _until_answer(url, "two") == "two"
    assert "config reloaded (signal)" in (tmp_path / "gateway.log").read_text()


async def test_the_file_watch_reloads_a_changed_config(tmp_path: Path) -> None:
    with serve_in_process(_process_yaml("one", watch=True), tmp_path) as url:
        assert await _until_answer(url, "one") == "one"
        await asyncio.sleep(0.3)  # the watch starts with the app
        config = tmp_path / "gateway.yaml"
        port_line = config.read_text().splitlines()[0]
        replacement = tmp_path / "gateway.yaml.new"
        replacement.write_text(f"{port_line}\n{_process_yaml('two', watch=True)}")
        replacement.replace(config)  # as editors and config managers save: a rename over the file
        assert await _until_answer(url, "two") == "two"


async def test_lunaroute_reload_reports_a_refusal_through_the_admin_api(start: Any, tmp_path: Path) -> None:
    raw = _config(tmp_path, {"m": _mock("running")})
    gw, path = await start(raw)
    raw["port"] = gw.port
    raw["session_recording"] = {"enabled": False, "sample_rate": 0.5}
    _write(path, raw)  # valid, but it changes a key read only at start-up (and the port the gateway runs on)
    done = await asyncio.to_thread(_reload_cli, path, tmp_path / "home")
    assert done.returncode == 1
    assert "reload refused (422)" in done.stderr
    assert "session_recording.sample_rate" in done.stderr
    assert await _ask(gw) == "running"


async def test_a_replaced_provider_closes_only_after_its_last_stream_ends(
    start: Any, tmp_path: Path, upstream: FakeUpstream
) -> None:
    def raw(connect_timeout: float) -> dict[str, Any]:
        provider = {
            "provider_type": "openai",
            "base_url": f"{upstream.url}/v1",
            "http_client": {"connect_timeout_secs": connect_timeout},
        }
        return _config(tmp_path, {"up": provider})

    gw, path = await start(raw(10))
    upstream.enqueue(Reply(answer=Answer(text="one two three four"), pieces=4, chunk_delay=0.3))
    client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="k", max_retries=0)
    try:
        stream = await client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        assert gw.app is not None
        old = gw.app[GATEWAY].runtime.pipeline.router.providers["up"]
        _write(path, raw(5))
        status, _ = await _admin(gw, "POST", "/admin/reload")
        assert status == 200
        assert gw.app[GATEWAY].runtime.pipeline.router.providers["up"] is not old
        assert old._session is not None  # type: ignore[attr-defined]  # the stream still uses it
        text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    finally:
        await client.close()
    assert text == "one two three four"
    for _ in range(100):
        if old._session is None:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.02)
    assert old._session is None  # type: ignore[attr-defined]


def test_only_providers_routing_bypass_and_the_dialect_change_live() -> None:
    base = Config()
    live = msgspec.structs.replace(
        base,
        routing=RoutingConfig(first_event_peek_ms=1),
        bypass=BypassConfig(enabled=False),
        api_dialect="openai",
        providers={},
    )
    assert restart_only_changes(base, live) == []
    fixed = msgspec.structs.replace(
        base, port=9999, reload=ReloadConfig(watch=False), logging=LoggingConfig(level="debug")
    )
    assert restart_only_changes(base, fixed) == ["logging.level", "port", "reload.watch"]


async def test_a_key_added_by_a_reload_is_masked_in_upstream_errors(
    start: Any, tmp_path: Path, upstream: FakeUpstream
) -> None:
    key = "sk-added-by-reload-0123456789"

    def raw(**extra: Any) -> dict[str, Any]:
        return _config(tmp_path, {"up": {"provider_type": "openai", "base_url": f"{upstream.url}/v1", **extra}})

    gw, path = await start(raw())
    _write(path, raw(api_key=key))
    status, _ = await _admin(gw, "POST", "/admin/reload")
    assert status == 200
    upstream.enqueue(Reply(status=401, error_message=f"invalid api key {key}"))
    async with aiohttp.ClientSession() as http:
        body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}
        async with http.post(f"{gw.url}/v1/chat/completions", json=body) as r:
            assert r.status == 401
            answer = await r.text()
    assert upstream.requests[-1].header("authorization") == f"Bearer {key}"
    assert key not in answer
    assert MASK in answer
