"""The admin API: off without an admin key, guarded by it, every key operation, its OpenAPI document — and
schemathesis against that document on a real gateway process: no 5xx, every answer conforms."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from tests.server._process import serve_in_process

from lunaroute.testing._gateway import GatewayFactory, GatewayServer

ADMIN = "admin-secret-0123456789"


@pytest.fixture
async def admin_gateway(make_gateway: GatewayFactory, tmp_path: Path) -> GatewayServer:
    return await make_gateway(auth={"mode": "keys", "database": str(tmp_path / "keys.db"), "admin_key": ADMIN})


def _auth(token: str = ADMIN) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_without_an_admin_key_every_admin_path_is_404(gateway: GatewayServer) -> None:
    async with aiohttp.ClientSession() as http:
        for method, path in (("GET", "/admin/keys"), ("POST", "/admin/keys"), ("GET", "/admin/openapi.json")):
            async with http.request(method, f"{gateway.url}{path}", headers=_auth()) as r:
                assert r.status == 404, path


async def test_a_wrong_admin_key_is_401(admin_gateway: GatewayServer) -> None:
    async with aiohttp.ClientSession() as http:
        for headers in ({}, _auth("wrong"), {"authorization": ADMIN}):
            async with http.get(f"{admin_gateway.url}/admin/keys", headers=headers) as r:
                assert r.status == 401
                assert (await r.json())["error"]["type"] == "authentication_error"


async def test_key_lifecycle_through_the_admin_api(admin_gateway: GatewayServer) -> None:
    url = f"{admin_gateway.url}/admin/keys"
    async with aiohttp.ClientSession(headers=_auth()) as http:
        async with http.post(url, json={"name": "ci", "team": "core", "models": ["gpt-*"]}) as r:
            assert r.status == 201
            created = await r.json()
        assert created["key"].startswith("lr-")
        assert created["status"] == "active"
        assert created["prefix"] == created["key"][:11]
        key_id = created["id"]
        async with http.get(url, params={"team": "core"}) as r:
            listed = (await r.json())["data"]
        assert [k["id"] for k in listed] == [key_id]
        assert "key" not in listed[0]
        assert created["key"] not in str(listed)
        async with http.patch(f"{url}/{key_id}", json={"models": [], "endpoints": ["/v1/embeddings"]}) as r:
            assert r.status == 200
            assert (await r.json())["endpoints"] == ["/v1/embeddings"]
        await _wait_for_refresh()
        async with aiohttp.ClientSession() as client:
            async with client.post(
                f"{admin_gateway.url}/v1/chat/completions",
                json={"model": "gpt-4o", "messages": []},
                headers={"authorization": f"Bearer {created['key']}"},
            ) as r:
                assert r.status == 403
        async with http.post(f"{url}/{key_id}/rotate", json={"grace_secs": 60}) as r:
            rotated = await r.json()
        assert rotated["key"] != created["key"]
        assert rotated["previous_valid_until"] > time.time() + 50
        async with http.post(f"{url}/{key_id}/revoke") as r:
            assert (await r.json())["status"] == "revoked"
        async with http.get(f"{url}/{key_id}") as r:
            assert (await r.json())["revoked_at"] is not None
        async with http.get(f"{url}/key_0000000000000000") as r:
            assert r.status == 404
        async with http.get(f"{url}/not-an-id") as r:
            assert r.status == 404
        async with http.post(url, json={"name": "x", "unknown": 1}) as r:
            assert r.status == 400
            assert "unknown" in (await r.json())["error"]["message"]
        async with http.post(url, data=b"{not json", headers={"content-type": "application/json"}) as r:
            assert r.status == 400


async def _wait_for_refresh() -> None:
    await asyncio.sleep(0.7)  # past refresh_interval_ms


async def test_the_openapi_document_names_every_admin_route(admin_gateway: GatewayServer) -> None:
    async with aiohttp.ClientSession(headers=_auth()) as http:
        async with http.get(f"{admin_gateway.url}/admin/openapi.json") as r:
            doc = await r.json()
    assert doc["openapi"].startswith("3.1")
    routes = {(path, method) for path, item in doc["paths"].items() for method in item if method != "parameters"}
    assert routes == {
        ("/admin/openapi.json", "get"),
        ("/admin/keys", "get"),
        ("/admin/keys", "post"),
        ("/admin/keys/{key_id}", "get"),
        ("/admin/keys/{key_id}", "patch"),
        ("/admin/keys/{key_id}/revoke", "post"),
        ("/admin/keys/{key_id}/rotate", "post"),
        ("/admin/config", "get"),
        ("/admin/reload", "post"),
        ("/admin/providers", "get"),
        ("/admin/route", "post"),
        ("/admin/sessions/{session_id}", "delete"),
    }


@pytest.fixture
def gateway_process(tmp_path: Path) -> Iterator[str]:
    """`lunaroute serve` in its own process with the admin API on and sessions recorded (so that deleting one
    reaches the stores); yields its URL."""
    config = (
        f"session_recording: {{jsonl: {{directory: {tmp_path / 'sessions'}}}, sqlite: {{path: {tmp_path / 's.db'}}},"
        f" journal_directory: {tmp_path / 'journal'}}}\n"
        f"auth: {{mode: keys, admin_key: {ADMIN}, database: {tmp_path / 'keys.db'}}}\n"
    )
    with serve_in_process(config, tmp_path) as url:
        yield url


def test_schemathesis_finds_no_server_error_and_no_nonconforming_answer(gateway_process: str, tmp_path: Path) -> None:
    st = shutil.which("st") or shutil.which("schemathesis")
    if st is None:
        if os.environ.get("CI"):
            pytest.fail("schemathesis is not installed (it is in the dev extra)")
        pytest.skip("schemathesis is not installed")
    result = subprocess.run(
        [
            st,
            "run",
            f"{gateway_process}/admin/openapi.json",
            "--header",
            f"Authorization: Bearer {ADMIN}",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--request-timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
