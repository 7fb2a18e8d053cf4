"""What a recording keeps of the client: never a credential header (however it is spelt), and its address only as
`session_recording.client_ip` allows (none, anonymized or full)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from lunaroute.recording import Started, read_session_file
from lunaroute.recording._tap import client_ip_for, recordable_headers
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import FakeUpstream, GatewayFactory, GatewayServer

CANARIES = {
    "x-api-key": "sk-ant-canary-xapikey-1",
    "Authorization": "Bearer sk-canary-authorization-2",
    "Cookie": "session=sk-canary-cookie-3",
    "Proxy-Authorization": "Basic sk-canary-proxy-4",
}


def _recording(tmp_path: Path, **extra: object) -> dict[str, object]:
    return {
        "jsonl": {"directory": str(tmp_path / "sessions")},
        "sqlite": {"path": str(tmp_path / "sessions.db")},
        "journal_directory": str(tmp_path / "journal"),
        **extra,
    }


async def _started(gateway: GatewayServer, tmp_path: Path, session: str, headers: dict[str, str]) -> Started:
    body = {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as client,
        client.post(
            f"{gateway.url}/v1/chat/completions", json=body, headers={"session_id": session, **headers}
        ) as response,
    ):
        assert response.status == 200
        await response.read()
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()
    [path] = (tmp_path / "sessions").rglob(f"{session}.jsonl")
    [started] = [e for e in read_session_file(path).events if isinstance(e, Started)]
    return started


def test_credential_headers_are_never_recordable() -> None:
    # The server hands header names over lower-cased.
    headers = [(name.lower(), value) for name, value in CANARIES.items()]
    headers += [("set-cookie", "sk-canary-set-cookie"), ("x-trace", "visible")]
    kept = recordable_headers(headers, capture_user_agent=True, max_user_agent=100)
    assert kept == [("x-trace", "visible")]


async def test_no_credential_header_reaches_any_recorded_file(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(session_recording=_recording(tmp_path))
    started = await _started(gateway, tmp_path, "sess-secrets", {**CANARIES, "X-Trace": "visible-header"})
    assert started.request_headers.get("x-trace") == "visible-header"  # other headers are recorded
    recorded = {name.lower() for name in started.request_headers}
    assert not recorded & {name.lower() for name in CANARIES}
    # The credentials did go upstream (forwarded): only the recording leaves them out.
    assert upstream.last_request.header("x-api-key") == CANARIES["x-api-key"]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in files)
    for path in files:
        data = path.read_bytes()
        for value in CANARIES.values():
            assert value.split()[-1].encode() not in data, (path, value)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("none", None), ("anonymized", "127.0.0.0"), ("full", "127.0.0.1")],
)
async def test_the_client_address_is_recorded_as_configured(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path, mode: str, expected: str | None
) -> None:
    gateway = await make_gateway(session_recording=_recording(tmp_path, client_ip=mode))
    started = await _started(gateway, tmp_path, f"sess-ip-{mode}", {})
    assert started.client_ip == expected


@pytest.mark.parametrize(
    ("remote", "anonymized"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("10.1.2.255", "10.1.2.0"),
        ("2001:db8:abcd:12:34:56:78:9a", "2001:db8:abcd::"),
        ("::1", "::"),
    ],
)
def test_client_ip_modes(remote: str, anonymized: str) -> None:
    assert client_ip_for(remote, "none") is None
    assert client_ip_for(remote, "full") == remote
    assert client_ip_for(remote, "anonymized") == anonymized
    assert client_ip_for(None, "full") is None
    assert client_ip_for("not-an-address", "anonymized") is None
