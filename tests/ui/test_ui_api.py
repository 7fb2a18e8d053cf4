"""The session JSON API over a seeded database, through aiohttp's test server and client."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from tests.recording.query._seed import now_utc, seed, standard_specs
from tests.recording.query.conftest import flat_price

from lunaroute.recording.codec import decode_event
from lunaroute.recording.query import SqliteSessionStore
from lunaroute.ui import create_api_app

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def seeded(tmp_path: Path) -> tuple[Path, Path]:
    db, jsonl = tmp_path / "sessions.db", tmp_path / "sessions"
    await seed(db, jsonl, standard_specs(now_utc()))
    return db, jsonl


@pytest.fixture
async def make_client(seeded: tuple[Path, Path]) -> AsyncIterator[MakeClient]:
    opened: list[tuple[TestClient[Any, Any], SqliteSessionStore]] = []

    async def factory(
        *, export: bool = False, delete: bool = False, token: str | None = None, jsonl: bool = True
    ) -> TestClient[Any, Any]:
        store = SqliteSessionStore(seeded[0], price=flat_price)
        app = create_api_app(
            store,
            jsonl_dir=seeded[1] if jsonl else None,
            export_enabled=export,
            delete_enabled=delete,
            auth_token=token,
        )
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        opened.append((client, store))
        return client

    yield factory
    for client, store in opened:
        await client.close()
        await store.close()


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient[Any, Any]:
    return await make_client()


async def get_json(client: TestClient[Any, Any], path: str, status: int = 200) -> Any:
    resp = await client.get(path)
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    return await resp.json()


async def test_stats_endpoints(client: TestClient[Any, Any]) -> None:
    overview = await get_json(client, "/api/stats/overview?hours=24")
    assert overview["requests"] == 7
    assert overview["failed_sessions"] == 1
    assert overview["total_cost_usd"] == pytest.approx(0.0012)
    tokens = await get_json(client, "/api/stats/tokens?days=7")
    assert tokens[0]["tokens"]["input"] == 700
    tools = await get_json(client, "/api/stats/tools")
    assert [t["tool_name"] for t in tools] == ["Read", "Bash"]
    costs = await get_json(client, "/api/stats/costs")
    assert costs["total"] == pytest.approx(0.0012)
    models = await get_json(client, "/api/stats/models?hours=24&user_agent=codex/0.1")
    assert [m["model_name"] for m in models] == ["gpt-4o-x"]
    hours = await get_json(client, "/api/stats/hours?hours=48")
    assert sum(h["request_count"] for h in hours) == 7
    spending = await get_json(client, "/api/stats/spending?hours=24")
    assert spending["avg_cost_per_session"] == pytest.approx(0.0003)
    assert await get_json(client, "/api/user-agents") == ["claude-cli/1.0.0", "claude-cli/2.0.0", "codex/0.1"]
    assert await get_json(client, "/api/models") == ["claude-opus-4-x", "claude-sonnet-4-x", "gpt-4o-x"]


async def test_clients_sum_the_model_usage_of_each_client(client: TestClient[Any, Any]) -> None:
    clients = await get_json(client, "/api/stats/clients?hours=720")
    agents = await get_json(client, "/api/user-agents")
    assert sorted(c["user_agent"] for c in clients) == sorted(agents)
    assert [c["request_count"] for c in clients] == sorted((c["request_count"] for c in clients), reverse=True)
    for c in clients:
        models = await get_json(client, f"/api/stats/models?hours=720&user_agent={c['user_agent']}")
        assert c["request_count"] == sum(m["request_count"] for m in models)
        assert c["total_tokens"] == sum(m["total_tokens"] for m in models)
        costs = [m["cost_usd"] for m in models if m["cost_usd"] is not None]
        assert c["cost_usd"] == (pytest.approx(sum(costs)) if costs else None)
    assert await get_json(client, "/api/stats/clients?hours=720&limit=1") == clients[:1]
    await get_json(client, "/api/stats/clients?limit=0", 400)


async def test_sessions_list_filters_and_pages(client: TestClient[Any, Any]) -> None:
    page = await get_json(client, "/api/sessions")
    assert [s["session_id"] for s in page["sessions"]] == ["sess-b", "sess-fail", "sess-a", "sess-old"]
    page = await get_json(client, "/api/sessions?offset=1&limit=2")
    assert [s["session_id"] for s in page["sessions"]] == ["sess-fail", "sess-a"]
    assert page["total"] == 4
    cases = {
        "user_agent=claude-cli/2.0.0": ["sess-b"],
        "model=gpt-4o": ["sess-old"],
        "provider=openai": ["sess-old"],
        "success=false": ["sess-fail"],
        "success=true&min_tokens=2000": ["sess-a"],
        "q=recursion": ["sess-a"],
        "since=6h&until=1h": ["sess-fail", "sess-a"],
        "q=%27%20OR%20%271%27%3D%271": [],
        "model=%27%3B%20DROP%20TABLE%20sessions%3B%20--": [],
        "user_agent=x%27%20UNION%20SELECT%201--": [],
    }
    for query, expected in cases.items():
        page = await get_json(client, f"/api/sessions?{query}")
        assert [s["session_id"] for s in page["sessions"]] == expected, query
    recent = await get_json(client, "/api/sessions/recent")
    assert len(recent) == 4
    assert recent[0]["session_id"] == "sess-b"


@pytest.mark.parametrize(
    "path",
    [
        "/api/sessions?offset=-1",
        "/api/sessions?limit=0",
        "/api/sessions?limit=abc",
        "/api/sessions?limit=99999999999999999999",
        "/api/sessions?success=maybe",
        "/api/sessions?min_tokens=-3",
        "/api/sessions?since=yesterday",
        "/api/sessions?q=" + "x" * 2000,
        "/api/sessions?model=a%00b",
        "/api/stats/overview?hours=0",
        "/api/stats/overview?hours=1e3",
        "/api/stats/tokens?days=-1",
        "/api/stats/spending?hours=%27%20OR%201%3D1",
        "/api/sessions/sess-a/timeline?order=sideways",
        "/api/sessions/sess-a/timeline?limit=-5",
    ],
)
async def test_bad_parameters_are_400(client: TestClient[Any, Any], path: str) -> None:
    body = await get_json(client, path, status=400)
    assert body["error"]["status"] == 400
    assert body["error"]["message"]


async def test_session_detail_timeline_tools(client: TestClient[Any, Any]) -> None:
    detail = await get_json(client, "/api/sessions/sess-fail")
    assert detail["summary"]["success"] is False
    assert len(detail["requests"]) == 2
    assert detail["response_text"] == "<script>alert(1)</script> #1"
    timeline = await get_json(client, "/api/sessions/sess-a/timeline?order=desc&limit=2")
    assert [e["index"] for e in timeline["entries"]] == [3, 2]
    assert timeline["total"] == 3
    tools = await get_json(client, "/api/sessions/sess-fail/tools")
    assert tools["total_tool_calls"] == 4
    for suffix in ("", "/timeline", "/tools"):
        body = await get_json(client, f"/api/sessions/unknown{suffix}", status=404)
        assert body["error"]["status"] == 404


async def test_raw_request(client: TestClient[Any, Any]) -> None:
    raw = await get_json(client, "/api/sessions/sess-a/raw/sess-a-req1")
    assert raw["request"]["messages"][0]["content"] == "explain recursion #1"
    assert raw["response"]["content"][0]["text"] == "recursion is #1"
    assert {e["request_id"] for e in raw["events"]} == {"sess-a-req1"}
    await get_json(client, "/api/sessions/sess-a/raw/other-request", status=404)
    await get_json(client, "/api/sessions/unknown/raw/x", status=404)


async def test_raw_without_jsonl_dir_is_404(make_client: MakeClient) -> None:
    client = await make_client(jsonl=False)
    await get_json(client, "/api/sessions/sess-a/raw/sess-a-req1", status=404)


@pytest.mark.parametrize(
    "evil",
    [
        "..%2f..%2fetc%2fpasswd",
        "..%252f..%252fetc%252fpasswd",
        "%2e%2e",
        "a%00b",
        "x" * 256,
        "x" * 4000,
        "sess%20a",
        "%2fetc%2fpasswd",
    ],
    ids=lambda v: v[:20],
)
async def test_path_traversal_ids(make_client: MakeClient, evil: str) -> None:
    client = await make_client(export=True, delete=True)
    for path in (
        f"/api/sessions/{evil}",
        f"/api/sessions/{evil}/timeline",
        f"/api/sessions/{evil}/tools",
        f"/api/sessions/{evil}/raw/req",
        f"/api/sessions/{evil}/export",
    ):
        resp = await client.get(path)
        assert resp.status in (400, 404), path
        assert resp.content_type == "application/json"
    resp = await client.delete(f"/api/sessions/{evil}")
    assert resp.status in (400, 404)


async def test_ten_kilobyte_id_is_refused(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/api/sessions/" + "x" * 10_240)
    assert resp.status == 400  # aiohttp's request-line limit (8 KiB) answers before any handler


async def test_literal_dot_dot_paths(client: TestClient[Any, Any]) -> None:
    for path in ("/api/sessions/../../etc/passwd", "/api/sessions/sess-a/raw/../../../etc/passwd"):
        resp = await client.get(path)
        assert resp.status in (400, 404)
        assert "root:" not in await resp.text()


async def test_export_disabled_and_enabled(make_client: MakeClient) -> None:
    off = await make_client()
    body = await get_json(off, "/api/sessions/sess-a/export?format=jsonl", status=403)
    assert "disabled" in body["error"]["message"]
    on = await make_client(export=True)
    resp = await on.get("/api/sessions/sess-a/export?format=jsonl")
    assert resp.status == 200
    assert resp.content_type == "application/x-ndjson"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="sess-a.jsonl"'
    events = [decode_event(line) for line in (await resp.read()).splitlines()]
    assert len(events) == 21
    data = await get_json(on, "/api/sessions/sess-a/export?format=json")
    assert data["session"]["summary"]["session_id"] == "sess-a"
    assert len(data["events"]) == 21
    resp = await on.get("/api/sessions/sess-fail/export?format=csv")
    text = await resp.text()
    assert resp.status == 200
    assert "=cmd" not in text.replace("'=cmd", "")
    await get_json(on, "/api/sessions/sess-a/export?format=xml", status=400)
    await get_json(on, "/api/sessions/unknown/export", status=404)


async def test_delete_disabled_and_enabled(make_client: MakeClient, seeded: tuple[Path, Path]) -> None:
    off = await make_client()
    resp = await off.delete("/api/sessions/sess-a")
    assert resp.status == 403
    on = await make_client(delete=True)
    resp = await on.delete("/api/sessions/sess-a")
    assert resp.status == 200
    assert await resp.json() == {"session_id": "sess-a", "deleted": True, "files_removed": 1}
    await get_json(on, "/api/sessions/sess-a", status=404)
    assert not list(seeded[1].glob("*/sess-a.jsonl"))
    resp = await on.delete("/api/sessions/sess-a")
    assert resp.status == 404
    with sqlite3.connect(seeded[0]) as conn:
        assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone() == (3,)


async def test_auth(make_client: MakeClient) -> None:
    client = await make_client(token="s3cret-token")
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic s3cret-token"},
        {"Authorization": "Bearer ' OR '1'='1"},
        {"Authorization": "Bearer s3cret-token-and-more"},
    ):
        resp = await client.get("/api/stats/overview", headers=headers)
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await resp.json())["error"]["status"] == 401
    resp = await client.get("/api/stats/overview", headers={"Authorization": "Bearer s3cret-token"})
    assert resp.status == 200
    resp = await client.get("/api/nowhere", headers={"Authorization": "Bearer s3cret-token"})
    assert resp.status == 404
    resp = await client.get("/api/nowhere")
    assert resp.status == 401  # unknown paths do not reveal themselves without the token


async def test_unknown_routes_and_methods_are_json(client: TestClient[Any, Any]) -> None:
    body = await get_json(client, "/api/nothing-here", status=404)
    assert body["error"]["status"] == 404
    resp = await client.post("/api/sessions")
    assert resp.status == 405
    assert (await resp.json())["error"]["status"] == 405
    resp = await client.delete("/api/sessions/sess-a")
    assert resp.status == 403


async def test_store_unavailable_is_503(tmp_path: Path) -> None:
    store = SqliteSessionStore(tmp_path / "missing.db")
    app = create_api_app(store, jsonl_dir=None, export_enabled=False, delete_enabled=False, auth_token=None)
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/api/sessions")
        assert resp.status == 503
        assert (await resp.json())["error"]["message"] == "the session store is unavailable"
    await store.close()


async def test_activity_in_minute_and_quarter_hour_buckets(
    client: TestClient[Any, Any], seeded: tuple[Path, Path]
) -> None:
    with sqlite3.connect(seeded[0]) as conn:
        (requests,) = conn.execute("SELECT COUNT(*) FROM session_stats").fetchone()
    for minutes in (1, 15):
        buckets = await get_json(client, f"/api/stats/activity?hours=1&minutes={minutes}")
        assert sum(b["requests"] for b in buckets) == requests  # the seed wrote every row just now
        assert all(b["minutes"] == minutes for b in buckets)
        starts = [b["start"] for b in buckets]
        assert starts == sorted(starts)
        assert all(int(s[14:16]) % minutes == 0 and s[17:19] == "00" for s in starts), starts
        assert all(b["cost_usd"] is not None for b in buckets)
    await get_json(client, "/api/stats/activity?minutes=7", status=400)
    await get_json(client, "/api/stats/activity?hours=49", status=400)


async def test_sessions_sorted_by_a_column(client: TestClient[Any, Any]) -> None:
    page = await get_json(client, "/api/sessions?sort=session&order=asc")
    assert [s["session_id"] for s in page["sessions"]] == ["sess-a", "sess-b", "sess-fail", "sess-old"]
    page = await get_json(client, "/api/sessions?sort=session&order=desc&limit=2&offset=1")
    assert [s["session_id"] for s in page["sessions"]] == ["sess-fail", "sess-b"]
    page = await get_json(client, "/api/sessions?sort=model&order=asc&provider=anthropic")
    assert [s["model_used"] or s["model_requested"] for s in page["sessions"]] == sorted(
        s["model_used"] or s["model_requested"] for s in page["sessions"]
    )
    await get_json(client, "/api/sessions?sort=cost_usd", status=400)
    await get_json(client, "/api/sessions?sort=session&order=sideways", status=400)


async def test_sessions_filtered_by_a_tool(client: TestClient[Any, Any]) -> None:
    page = await get_json(client, "/api/sessions?tool=Bash")
    assert [s["session_id"] for s in page["sessions"]] == ["sess-fail"]  # the only one with two calls: Read, Bash
    page = await get_json(client, "/api/sessions?tool=Read")
    assert [s["session_id"] for s in page["sessions"]] == ["sess-b", "sess-fail", "sess-a"]  # sess-old called none
    assert (await get_json(client, "/api/sessions?tool=Nope"))["sessions"] == []


async def test_the_filtered_list_exports_as_csv_and_json(make_client: MakeClient) -> None:
    closed = await make_client()
    assert (await closed.get("/api/export/sessions?format=csv")).status == 403
    client = await make_client(export=True)
    resp = await client.get("/api/export/sessions?format=csv&provider=anthropic&sort=session&order=asc")
    assert resp.status == 200
    assert resp.headers["Content-Disposition"] == 'attachment; filename="sessions.csv"'
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [r["session_id"] for r in rows] == ["sess-a", "sess-b", "sess-fail"]
    assert all(r["cost_usd"] for r in rows)
    resp = await client.get("/api/export/sessions?format=json&tool=Bash")
    assert [s["session_id"] for s in json.loads(await resp.text())] == ["sess-fail"]
    assert (await client.get("/api/export/sessions?format=xml")).status == 400
