"""Connection handling on real loopback sockets: header and idle deadlines, connection caps, the in-flight cap."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time

import aiohttp
import pytest

from lunaroute.config import config_from_mapping
from lunaroute.errors import ConfigError
from lunaroute.observability import configure_logging
from lunaroute.testing import FakeUpstream, Reply
from lunaroute.testing._gateway import GatewayFactory, GatewayServer

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
HEALTH = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def metric(gw: GatewayServer, name: str, **labels: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(f"{gw.url}/metrics") as response:
        text = await response.text()
    total = 0.0
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


async def connect(gw: GatewayServer, source: str = "127.0.0.1") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", gw.port, local_addr=(source, 0))


async def read_until_closed(reader: asyncio.StreamReader, within: float) -> bytes:
    """Everything the gateway sends until it closes the connection; fails the test past `within` seconds."""
    data = b""
    async with asyncio.timeout(within):
        while True:
            try:
                chunk = await reader.read(65536)
            except ConnectionResetError:
                return data
            if not chunk:
                return data
            data += chunk


async def is_closed(reader: asyncio.StreamReader, within: float = 1.0) -> bool:
    try:
        await read_until_closed(reader, within)
    except TimeoutError:
        return False
    return True


async def test_slowloris_headers_get_408_and_close(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(http_server={"header_timeout_secs": 0.5})
    reader, writer = await connect(gw)
    started = time.monotonic()
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    answer = b""
    for i in range(40):  # a header byte every 0.1 s: the trickle never completes the head
        writer.write(b"X-Slow-%d: 1\r\n" % i)
        await writer.drain()
        try:
            answer = await asyncio.wait_for(reader.read(65536), 0.1)
            break
        except TimeoutError:
            continue
    answer += await read_until_closed(reader, 2.0)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "request_timeout"
    assert time.monotonic() - started < 2.0
    assert await metric(gw, "lunaroute_connection_timeouts_total", phase="header") == 1


async def test_silent_connection_is_closed_at_the_header_deadline(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(http_server={"header_timeout_secs": 0.3})
    reader, writer = await connect(gw)
    assert await read_until_closed(reader, 2.0) == b""
    writer.close()
    assert await metric(gw, "lunaroute_connection_timeouts_total", phase="header") == 1


async def test_slow_answer_is_not_cut_by_the_header_deadline(
    upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    gw = await make_gateway(http_server={"header_timeout_secs": 0.3, "idle_timeout_secs": 0.3})
    upstream.enqueue(Reply(delay_before_headers=0.8))
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gw.url}/v1/chat/completions", json=CHAT) as response:
            assert response.status == 200
            await response.read()


async def test_idle_keepalive_connection_is_closed(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(http_server={"header_timeout_secs": 5, "idle_timeout_secs": 0.4})
    reader, writer = await connect(gw)
    for _ in range(4):  # busy for 0.8 s in all, never idle 0.4 s: stays open
        writer.write(HEALTH)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2.0)
        assert head.startswith(b"HTTP/1.1 200")
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
        await reader.readexactly(length)
        await asyncio.sleep(0.2)
    assert await read_until_closed(reader, 2.0) == b""
    writer.close()
    assert await metric(gw, "lunaroute_connection_timeouts_total", phase="idle") == 1
    assert await metric(gw, "lunaroute_connection_timeouts_total", phase="header") == 0


async def test_global_connection_cap(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(http_server={"max_connections": 2})
    held = [await connect(gw) for _ in range(2)]
    await asyncio.sleep(0.05)
    reader, writer = await connect(gw)
    assert await is_closed(reader)
    writer.close()
    for _, w in held:
        w.close()
    await asyncio.sleep(0.1)
    assert await metric(gw, "lunaroute_connections_refused_total", reason="global_cap") == 1
    assert await metric(gw, "lunaroute_connections_open") == 1  # the scrape itself


async def test_per_client_connection_cap_counts_each_address(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(http_server={"max_connections_per_client": 2})
    held = [await connect(gw) for _ in range(2)]
    await asyncio.sleep(0.05)
    reader, writer = await connect(gw)
    assert await is_closed(reader)
    writer.close()
    # Another address is not affected: it is admitted and answered.
    reader, writer = await connect(gw, source="127.0.0.2")
    writer.write(HEALTH)
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2.0)).startswith(b"HTTP/1.1 200")
    writer.close()
    for _, w in held:
        w.close()
    await asyncio.sleep(0.1)
    assert await metric(gw, "lunaroute_connections_refused_total", reason="client_cap") == 1


async def test_in_flight_cap_sheds_with_503_in_the_callers_dialect(
    upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    gw = await make_gateway(http_server={"max_in_flight_requests": 1})
    upstream.enqueue(Reply(delay_before_headers=1.0))
    async with aiohttp.ClientSession() as session:
        slow = asyncio.ensure_future(session.post(f"{gw.url}/v1/chat/completions", json=CHAT))
        await upstream.wait_for_requests(1)
        async with session.post(
            f"{gw.url}/v1/messages", json={"model": "claude-x", "max_tokens": 5, "messages": []}
        ) as response:
            assert response.status == 503
            assert response.headers["retry-after"] == "1"
            body = await response.json()
        assert body["type"] == "error"
        assert body["error"]["type"] == "overloaded_error"
        async with session.post(f"{gw.url}/v1/chat/completions", json=CHAT) as response:
            assert response.status == 503
            assert (await response.json())["error"]["code"] == "overloaded"
        async with session.get(f"{gw.url}/healthz") as response:
            assert response.status == 200  # health and metrics are never shed
        first = await slow
        assert first.status == 200
        first.release()
        async with session.post(f"{gw.url}/v1/chat/completions", json=CHAT) as response:
            assert response.status == 200
    assert await metric(gw, "lunaroute_requests_shed_total", listener="anthropic") == 1
    assert await metric(gw, "lunaroute_requests_shed_total", listener="openai") == 1
    assert len(upstream.requests) == 2


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("header_timeout_secs", 0),
        ("idle_timeout_secs", -1),
        ("max_connections", 0),
        ("max_connections_per_client", -5),
        ("max_in_flight_requests", 0),
    ],
)
def test_connection_settings_are_validated(key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=key):
        config_from_mapping({"http_server": {key: value}}, env={})


@pytest.mark.parametrize(
    ("request_bytes", "logged"),
    [
        # A bad method on a connection's first request is what port scanners and TLS clients send: aiohttp keeps
        # it at debug level.
        (b"GARBAGE\x1b[31m /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n", False),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\x00: 1\r\n\r\n", True),
        (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            True,
        ),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /\x1b[2J\nX HTTP/1.1\r\n\r\n", True),
    ],
)
async def test_parser_errors_are_one_structured_line(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture, request_bytes: bytes, logged: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    gw = await make_gateway()
    reader, writer = await connect(gw)
    writer.write(request_bytes)
    answer = await read_until_closed(reader, 2.0)
    writer.close()
    assert b"HTTP/1.0 400 " in answer or b"HTTP/1.1 400 " in answer
    if not logged:
        assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
        return
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 1
    [record] = records
    assert record.name == "lunaroute.server"
    assert record.getMessage() == "bad http request"
    assert record.exc_info is None
    error = record.__dict__["error"]
    assert error
    assert error.isprintable()
    assert len(error) <= 200
    assert record.__dict__["status"] == 400


def test_aiohttp_records_go_out_as_one_json_line(capfd: pytest.CaptureFixture[str]) -> None:
    names = ("lunaroute", "aiohttp")
    saved = [
        (logging.getLogger(n).handlers[:], logging.getLogger(n).level, logging.getLogger(n).propagate) for n in names
    ]
    try:
        configure_logging("info", "json")
        try:
            raise ValueError("first line\nsecond line")
        except ValueError as exc:
            logging.getLogger("aiohttp.server").error("Error handling request", exc_info=exc)
        err = capfd.readouterr().err
    finally:
        for name, (handlers, level, propagate) in zip(names, saved, strict=True):
            logger = logging.getLogger(name)
            logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate
    [line] = err.splitlines()
    entry = json.loads(line)
    assert entry["logger"] == "aiohttp.server"
    assert "second line" in entry["exc"]
