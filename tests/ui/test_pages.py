"""The web pages of the UI listener over a seeded database, through aiohttp's test server and client."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from tests.recording.query._seed import Spec, now_utc, seed, standard_specs
from tests.recording.query.conftest import flat_price

from lunaroute.config import config_from_mapping
from lunaroute.recording.events import Completed, RequestRecorded, ResponseRecorded, SessionEvent, Started
from lunaroute.recording.jsonl import JsonlWriter
from lunaroute.recording.query import SqliteSessionStore
from lunaroute.recording.sqlite import SqliteWriter
from lunaroute.ui import build_ui_app, create_api_app
from lunaroute.ui.pages import CSP, add_pages
from lunaroute.ui.pages._conversation import (
    Other,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
    new_turns,
    read_request,
    read_response,
)

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]

EVIL_PROMPT = '<img src=x onerror=alert("p")> and "quotes" & <b>bold</b>'
EVIL_ANSWER = "<script>alert('a')</script>"
EVIL_AGENT = "<script>ua()</script>"
TOKEN = "s3cret-token"


def _chat_session(now: dt.datetime) -> list[SessionEvent]:
    """A two-request OpenAI chat session with a tool call, its result, and an escaped tool argument."""
    sid, at = "sess-chat", now - dt.timedelta(minutes=10)
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "<svg onload=x>"}'}}
    first = {
        "model": "gpt-4o",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Find it"}],
    }
    second = {
        "model": "gpt-4o",
        "messages": [
            *first["messages"],
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "found <iframe src=evil>"},
        ],
    }
    answers = [
        {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [call]}}]},
        {"choices": [{"message": {"role": "assistant", "content": "Here it is."}}]},
    ]
    events: list[SessionEvent] = []
    for n, (body, answer) in enumerate(((first, answers[0]), (second, answers[1]))):
        rid, t = f"{sid}-r{n}", at + dt.timedelta(seconds=n)
        ms = dt.timedelta(milliseconds=1)
        events += [
            Started(
                session_id=sid,
                request_id=rid,
                timestamp=t,
                model_requested="gpt-4o",
                provider="openai",
                listener="openai",
                user_agent="OpenAI/Python 1.0",
            ),
            RequestRecorded(
                session_id=sid, request_id=rid, timestamp=t + ms, request_text="Find it", request_json=body
            ),
            ResponseRecorded(
                session_id=sid,
                request_id=rid,
                timestamp=t + 2 * ms,
                response_json=answer,
                model_used="gpt-4o",
                input_tokens=40,
                output_tokens=9,
                total_tokens=49,
            ),
            Completed(
                session_id=sid,
                request_id=rid,
                timestamp=t + 3 * ms,
                success=True,
                finish_reason="tool_calls" if n == 0 else "stop",
                total_duration_ms=321,
            ),
        ]
    return events


@pytest.fixture
async def seeded(tmp_path: Path) -> tuple[Path, Path]:
    db, jsonl = tmp_path / "sessions.db", tmp_path / "sessions"
    now = now_utc()
    evil = Spec(
        "sess-evil",
        now - dt.timedelta(minutes=20),
        requests=1,
        user_agent=EVIL_AGENT,
        prompt=EVIL_PROMPT,
        answer=EVIL_ANSWER,
        tools=0,
    )
    await seed(db, jsonl, [*standard_specs(now), evil])
    chat = _chat_session(now)
    writer = await SqliteWriter.open(db)
    try:
        await writer.write_batch(chat)
    finally:
        await writer.close()
    jw = JsonlWriter(jsonl)
    try:
        await jw.write_batch(chat)
    finally:
        await jw.close()
    return db, jsonl


@pytest.fixture
async def make_client(seeded: tuple[Path, Path]) -> AsyncIterator[MakeClient]:
    opened: list[tuple[TestClient[Any, Any], SqliteSessionStore]] = []

    async def factory(
        *, export: bool = True, delete: bool = False, token: str | None = None, jsonl: bool = True
    ) -> TestClient[Any, Any]:
        store = SqliteSessionStore(seeded[0], price=flat_price)
        jsonl_dir = seeded[1] if jsonl else None
        app = create_api_app(store, jsonl_dir=jsonl_dir, export_enabled=export, delete_enabled=delete, auth_token=token)
        add_pages(
            app,
            store,
            jsonl_dir=jsonl_dir,
            export_enabled=export,
            delete_enabled=delete,
            auth_token=token,
            price=flat_price,
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


async def get_page(client: TestClient[Any, Any], path: str, status: int = 200, **kwargs: Any) -> str:
    resp = await client.get(path, **kwargs)
    text = await resp.text()
    assert resp.status == status, text[:500]
    assert resp.content_type == "text/html"
    assert resp.headers["Content-Security-Policy"] == CSP
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert_no_inline_code(text)
    return text


def assert_no_inline_code(html: str) -> None:
    """Every script is a file of ours; no inline script, handler or style attribute anywhere."""
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert re.fullmatch(r'<script src="/static/[a-z]+\.js" defer>', tag), tag
    assert "</script>" not in html.replace("></script>", "")
    assert not re.search(r"<[a-z][^>]*\son[a-z]+=", html, re.IGNORECASE)
    assert not re.search(r"<[a-z][^>]*\sstyle=", html, re.IGNORECASE)
    assert "<style" not in html


def session_ids(html: str) -> list[str]:
    return re.findall(r'<a href="/sessions/([\w-]+)" class="sid"', html)


async def test_dashboard_renders_the_selected_window(client: TestClient[Any, Any]) -> None:
    html = await get_page(client, "/")
    assert 'data-hours="24"' in html
    assert 'src="/static/dashboard.js"' in html
    for name in ("requests", "tokens", "cost", "errors", "ttft"):
        assert f'data-kpi="{name}"' in html
    for card in ("activity", "tokens", "models", "providers", "clients", "tools"):
        assert f'id="chart-{card}"' in html
    assert 'data-hours="168"' in await get_page(client, "/?window=week")
    assert 'data-hours="720"' in await get_page(client, "/?window=month")
    assert 'data-hours="24"' in await get_page(client, "/?window=%3Cscript%3E")


async def test_session_list_filters_and_pages(client: TestClient[Any, Any]) -> None:
    html = await get_page(client, "/sessions")
    assert session_ids(html) == ["sess-chat", "sess-evil", "sess-b", "sess-fail", "sess-a", "sess-old"]
    assert "1 to 6 of 6 sessions" in html
    cases = {
        "model=gpt-4o": ["sess-chat", "sess-old"],
        "provider=openai": ["sess-chat", "sess-old"],
        "user_agent=claude-cli%2F2.0.0": ["sess-b"],
        "success=false": ["sess-fail"],
        "min_tokens=2000": ["sess-fail", "sess-a"],
        "q=recursion": ["sess-a"],
        "since=6h&until=1h": ["sess-fail", "sess-a"],
        "since=24h&success=true&q=nothing-matches": [],
    }
    for query, expected in cases.items():
        html = await get_page(client, f"/sessions?{query}")
        assert session_ids(html) == expected, query
    html = await get_page(client, "/sessions?since=6h&until=1h")
    assert 'name="since" value="6h"' in html  # the range given stays in the form
    assert 'name="until" value="1h"' in html
    assert "No sessions match these filters." in await get_page(client, "/sessions?q=nothing-matches")
    html = await get_page(client, "/sessions?limit=2&offset=2&model=")
    assert session_ids(html) == ["sess-b", "sess-fail"]
    assert "3 to 4 of 6 sessions" in html
    assert 'href="/sessions?limit=2" rel="prev"' in html
    assert 'href="/sessions?limit=2&amp;offset=4" rel="next"' in html


async def test_session_list_bad_filter_is_shown_on_the_page(client: TestClient[Any, Any]) -> None:
    html = await get_page(client, "/sessions?since=yesterday&q=keep", status=400)
    assert "since: not a time" in html
    assert 'name="q" value="keep"' in html
    assert "<table" not in html


async def test_session_detail_shows_the_conversation(client: TestClient[Any, Any]) -> None:
    html = await get_page(client, "/sessions/sess-a")
    for n in range(3):
        assert f"explain recursion #{n}" in html
        assert f"recursion is #{n}" in html
        assert f'href="/api/sessions/sess-a/raw/sess-a-req{n}"' in html
    assert "Timeline (3 requests)" in html
    assert 'href="/api/sessions/sess-a/export?format=jsonl"' in html
    assert 'id="delete-session"' not in html
    html = await get_page(client, "/sessions/sess-chat")
    assert "Be brief." in html  # the system prompt, once
    assert html.count("System prompt") == 1
    assert "lookup" in html
    assert "&quot;q&quot;: &quot;&lt;svg onload=x&gt;&quot;" in html  # tool arguments, pretty-printed
    assert "found &lt;iframe src=evil&gt;" in html  # the tool result, named after its call
    assert "Here it is." in html
    assert "finish: tool_calls" in html
    assert "2 earlier messages resent" in html


async def test_user_and_model_text_is_escaped(client: TestClient[Any, Any]) -> None:
    pages = [
        await get_page(client, "/sessions/sess-evil"),
        await get_page(client, "/sessions"),
        await get_page(client, "/sessions?user_agent=" + EVIL_AGENT),
        await get_page(client, "/sessions/sess-fail"),
    ]
    detail = pages[0]
    assert (
        "&lt;img src=x onerror=alert(&quot;p&quot;)&gt; and &quot;quotes&quot; &amp; &lt;b&gt;bold&lt;/b&gt;" in detail
    )
    assert "&lt;script&gt;alert(&#x27;a&#x27;)&lt;/script&gt;" in detail
    for html in pages:
        assert "<img" not in html
        assert "<b>" not in html
        assert "<iframe" not in html
        assert "alert(" not in re.sub(r"&lt;script&gt;.*?&lt;/script&gt;|&lt;img[^<]*?&gt;", "", html)
    assert "&lt;script&gt;ua()&lt;/script&gt;" in pages[1]  # the client column and the client select


async def test_unknown_sessions_are_404_pages(client: TestClient[Any, Any]) -> None:
    for path in (
        "/sessions/no-such-session",
        "/sessions/%3Cscript%3E",
        "/sessions/" + "x" * 300,
        "/sessions/a%2F..%2Fb",
    ):
        html = await get_page(client, path, status=404)
        assert "Session not found" in html or "Not found" in html
        assert "<script>" not in html
    html = await get_page(client, "/no/such/page", status=404)
    assert "Not found" in html
    resp = await client.post("/sessions")
    assert resp.status == 405
    assert resp.content_type == "text/html"


async def test_detail_without_jsonl_falls_back_to_stored_texts(make_client: MakeClient) -> None:
    client = await make_client(jsonl=False)
    html = await get_page(client, "/sessions/sess-b")
    assert "The raw events of this session are not available" in html
    assert "100% done_ok" in html
    assert "Raw JSON" not in html


async def test_export_and_delete_controls_follow_the_config(make_client: MakeClient) -> None:
    off = await make_client(export=False, delete=False)
    html = await get_page(off, "/sessions/sess-a")
    assert "/export?" not in html
    assert "delete-session" not in html
    on = await make_client(export=True, delete=True)
    html = await get_page(on, "/sessions/sess-a")
    for fmt in ("jsonl", "json", "csv"):
        assert f'href="/api/sessions/sess-a/export?format={fmt}" download="sess-a.{fmt}"' in html
    assert 'id="delete-session" data-session="sess-a"' in html
    assert "Session sess-a was deleted." in await get_page(on, "/sessions?deleted=sess-a")
    assert "was deleted" not in await get_page(on, "/sessions?deleted=%3Cb%3E")


async def test_static_files(client: TestClient[Any, Any]) -> None:
    for name, ctype in (("ui.css", "text/css"), ("dashboard.js", "text/javascript"), ("favicon.svg", "image/svg+xml")):
        resp = await client.get(f"/static/{name}")
        assert resp.status == 200, name
        assert resp.content_type == ctype
        assert len(await resp.read()) > 100
    for path in ("/static/nope.js", "/static/..%2F_serve.py", "/static/%2e%2e%2fpages%2f__init__.py"):
        resp = await client.get(path)
        assert resp.status == 404, path
    for name in ("charts.js", "dashboard.js", "session.js", "sessions.js", "ui.js"):
        script = await (await client.get(f"/static/{name}")).text()
        assert "innerHTML" not in script  # every recorded value reaches the page as text
        assert "http://" not in script.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in script


async def test_store_unavailable_is_a_503_page(tmp_path: Path) -> None:
    store = SqliteSessionStore(tmp_path / "missing.db")
    app = create_api_app(store, jsonl_dir=None, export_enabled=False, delete_enabled=False, auth_token=None)
    add_pages(app, store, jsonl_dir=None, export_enabled=False, delete_enabled=False, auth_token=None)
    async with TestClient(TestServer(app)) as client:
        html = await get_page(client, "/sessions", status=503)
        assert "the session store is unavailable" in html
    await store.close()


async def test_no_token_configured_needs_no_sign_in(client: TestClient[Any, Any]) -> None:
    await get_page(client, "/sessions?token=anything")
    resp = await client.get("/api/stats/overview")
    assert resp.status == 200


async def test_token_sign_in_sets_a_strict_cookie(make_client: MakeClient) -> None:
    client = await make_client(token=TOKEN)
    for path in ("/", "/sessions", "/sessions/sess-a", "/sessions/unknown-id"):
        html = await get_page(client, path, status=401)
        assert 'name="token" type="password"' in html
        assert "sess-a" not in html.replace('action="/sessions/sess-a"', "")
    resp = await client.get("/api/sessions")
    assert resp.status == 401
    assert resp.content_type == "application/json"
    html = await get_page(client, "/sessions?model=gpt-4o&token=", status=401)
    assert '<form method="get" action="/sessions" class="sign-in">' in html
    assert '<input type="hidden" name="model" value="gpt-4o">' in html  # kept through the sign-in
    await get_page(client, "/sessions", headers={"Authorization": f"Bearer {TOKEN}"})
    assert "That token is not right." in await get_page(client, "/sessions?token=wrong", status=401)
    resp = await client.get(f"/sessions?model=gpt-4o&token={TOKEN}", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/sessions?model=gpt-4o"
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("lunaroute_ui=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/" in cookie
    assert TOKEN not in cookie
    # The client keeps the cookie: pages and the API now answer.
    html = await get_page(client, "/sessions?model=gpt-4o")
    assert session_ids(html) == ["sess-chat", "sess-old"]
    resp = await client.get("/api/stats/overview")
    assert resp.status == 200
    client.session.cookie_jar.clear()
    resp = await client.get("/api/stats/overview", headers={"Cookie": "lunaroute_ui=forged"})
    assert resp.status == 401


async def raw_get(client: TestClient[Any, Any], target: str) -> bytes:
    """The head of the answer to `GET <target>` sent as is (no client normalises the request target)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    return data.split(b"\r\n\r\n", 1)[0]


async def test_static_files_and_redirects_with_a_token(make_client: MakeClient) -> None:
    client = await make_client(token=TOKEN)
    resp = await client.get("/static/ui.css")
    assert resp.status == 200  # the sign-in page keeps its style
    for target in (f"//evil.example/?token={TOKEN}", f"/\\evil.example/?token={TOKEN}"):
        head = await raw_get(client, target)
        assert head.startswith(b"HTTP/1.1 303"), head
        assert b"\r\nLocation: /\r\n" in head, head
    head = await raw_get(client, f"/sessions/sess-a?token={TOKEN}")
    assert b"\r\nLocation: /sessions/sess-a\r\n" in head, head


async def test_built_from_the_config(tmp_path: Path, seeded: tuple[Path, Path]) -> None:
    db, jsonl = seeded
    config = config_from_mapping(
        {
            "session_recording": {"enabled": True, "sqlite": {"path": str(db)}, "jsonl": {"directory": str(jsonl)}},
            "ui": {"auth_token": TOKEN, "delete_enabled": True},
        },
        env={},
    )
    async with TestClient(TestServer(build_ui_app(config))) as client:
        await get_page(client, "/", status=401)
        html = await get_page(client, "/sessions/sess-a", headers={"Authorization": f"Bearer {TOKEN}"})
        assert "explain recursion #0" in html
        assert 'id="delete-session"' in html


def test_reading_every_dialect() -> None:
    anthropic = read_request(
        {
            "system": [{"type": "text", "text": "sys"}],
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}]},
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t1",
                            "content": [{"type": "text", "text": "r"}],
                            "is_error": True,
                        }
                    ],
                },
            ],
            "tools": [{"name": "f", "input_schema": {}}],
        }
    )
    assert anthropic.system == (Text("sys"),)
    assert anthropic.tools == ("f",)
    assert new_turns(anthropic, first=False)[0].parts == (ToolResult("t1", "r", is_error=True),)
    responses = read_request(
        {
            "instructions": "be good",
            "input": [
                {
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hi"}, {"type": "input_image", "image_url": "data:x"}],
                },
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}]},
                {"type": "function_call", "call_id": "c1", "name": "g", "arguments": '{"b":2}'},
                {"type": "function_call_output", "call_id": "c1", "output": "ok"},
            ],
            "tools": [{"type": "function", "name": "g"}, {"type": "web_search"}],
        }
    )
    assert responses.system == (Text("be good"),)
    assert [t.role for t in responses.turns] == ["user", "assistant", "tool"]
    assert responses.turns[0].parts == (Text("hi"), Other("image", ""))
    assert responses.turns[1].parts == (Thinking("hmm"), ToolCall("g", "c1", '{\n  "b": 2\n}'))
    assert responses.tools == ("g", "web_search")
    assert read_response(
        {"output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "yo"}]}]}
    ) == (Text("yo"),)
    chat = read_response(
        {
            "choices": [
                {
                    "message": {
                        "content": "x",
                        "reasoning_content": "why",
                        "refusal": "no",
                        "tool_calls": [{"id": "c", "function": {"name": "h", "arguments": "not json"}}],
                    }
                }
            ]
        }
    )
    assert chat == (Thinking("why"), Text("x"), Text("no", refusal=True), ToolCall("h", "c", "not json"))
    assert read_response({"content": [{"type": "redacted_thinking", "data": "..."}, {"type": "mystery", "v": 1}]}) == (
        Thinking("", redacted=True),
        Other("mystery", '{"type": "mystery", "v": 1}'),
    )
    odds: list[Any] = [None, 3, [], "text", {"error": {"message": "boom"}}, {"choices": "x"}, {"content": [None, 5]}]
    for odd in odds:
        read_response(odd)
        read_request(odd)
    assert read_response({"error": {"message": "boom"}}) == (Other("error", "boom"),)


async def test_long_sessions_are_paged(tmp_path: Path) -> None:
    db, jsonl = tmp_path / "long.db", tmp_path / "long"
    await seed(db, jsonl, [Spec("sess-long", now_utc() - dt.timedelta(hours=3), requests=60, prompt="step")])
    store = SqliteSessionStore(db)
    app = create_api_app(store, jsonl_dir=jsonl, export_enabled=False, delete_enabled=False, auth_token=None)
    add_pages(app, store, jsonl_dir=jsonl, export_enabled=False, delete_enabled=False, auth_token=None)
    async with TestClient(TestServer(app)) as client:
        first = await get_page(client, "/sessions/sess-long")
        assert first.count('<li class="req"') == 50
        assert "Timeline (60 requests)" in first
        assert 'href="/sessions/sess-long?page=2" rel="next"' in first
        second = await get_page(client, "/sessions/sess-long?page=2")
        assert second.count('<li class="req"') == 10
        assert 'id="req-51"' in second
        assert "step #59" in second
        assert 'id="req-1"' in await get_page(client, "/sessions/sess-long?page=abc")
    await store.close()


def test_an_inline_image_is_named_by_its_type_and_size() -> None:
    png = "iVBORw0KGgo" + "A" * 1361  # 1,372 base64 characters: 1,029 bytes
    chat = read_request(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "QUJD"}}
                    ],
                },
            ]
        }
    )
    assert [t.parts for t in chat.turns] == [
        (Other("image", "image/png, 1.0 kB"),),
        (Other("image", "image/jpeg, 3 bytes"),),
    ]


async def test_thinking_is_written_once_beside_its_preview(client: TestClient[Any, Any]) -> None:
    from lunaroute.ui.pages._parts import render_parts

    html = str(render_parts((Thinking("step one, then step two"),), {}))
    assert html.count("step one, then step two") == 2  # the preview (hidden once open) and the full text
    assert '<span class="preview">step one, then step two</span>' in html
    css = await (await client.get("/static/ui.css")).text()
    assert ".thinking[open] > summary .preview { display: none; }" in css


async def test_session_list_columns_sort_and_keep_the_filters(client: TestClient[Any, Any]) -> None:
    html = await (await client.get("/sessions?provider=anthropic&sort=session&order=asc")).text()
    ids = re.findall(r'class="sid" title="([^"]+)"', html)
    assert ids == sorted(ids)
    assert '<th class="c-session" aria-sort="ascending">' in html
    assert 'href="/sessions?provider=anthropic&amp;sort=session&amp;order=desc"' in html  # a second click reverses
    assert 'href="/sessions?provider=anthropic&amp;sort=duration&amp;order=desc"' in html
    assert '<input type="hidden" name="sort" value="session">' in html  # the filter form keeps the order
    bad = await client.get("/sessions?sort=nonsense")
    assert bad.status == 400


async def test_session_list_offers_the_export_of_what_it_shows(make_client: MakeClient) -> None:
    client = await make_client(export=True)
    html = await (await client.get("/sessions?provider=anthropic&sort=session&order=asc")).text()
    assert 'href="/api/export/sessions?provider=anthropic&amp;sort=session&amp;order=asc&amp;format=csv"' in html
    plain = await make_client(export=False)
    assert "/api/export/sessions" not in await (await plain.get("/sessions")).text()


async def test_session_list_previews_each_prompt(client: TestClient[Any, Any]) -> None:
    html = await (await client.get("/sessions?q=recursion")).text()
    assert '<div class="preview muted">explain recursion #2</div>' in html


def test_answers_render_markdown_and_nothing_of_it_becomes_active() -> None:
    from lunaroute.ui.pages._parts import render_parts

    hostile = (
        "# Plan\n\n1. first\n2. second\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint('x')\n```\n\n"
        "<script>alert(1)</script> <img src=x onerror=alert(2)> <a href='javascript:alert(3)'>x</a>\n\n"
        "[bad](javascript:alert(4)) [data](data:text/html;base64,PHNjcmlwdD4=) [ok](https://example.com/a?b=1&c=2) "
        "![pic](https://example.com/p.png)"
    )
    html = str(render_parts((Text(hostile),), {}, markdown=True))
    rendered = html.split('<div class="text" hidden>')[0]
    assert "<h1>Plan</h1>" in rendered
    assert "<ol>\n<li>first</li>" in rendered
    assert "<td>1</td>" in rendered
    assert "<pre><code class=\"language-python\">print('x')\n</code></pre>" in rendered
    assert '<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">ok</a>' in rendered
    assert not re.search(r"<(script|img|iframe|object|embed|style)\b", html, re.I)
    assert not re.search(r"<[a-z][^>]*\son[a-z]+=", html, re.I)
    assert "javascript:" not in " ".join(re.findall(r'href="([^"]*)"', html))
    assert "data:text/html" not in " ".join(re.findall(r'href="([^"]*)"', html))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered  # shown as the text it is
    # The source is kept beside it (hidden), escaped, for the copy button.
    assert '<div class="text" hidden># Plan' in html


def test_user_text_is_never_rendered_as_markdown() -> None:
    from lunaroute.ui.pages._parts import render_parts

    assert "<h1>" not in str(render_parts((Text("# not a heading"),), {}))


async def test_key_and_team_filters_are_offered_when_the_gateway_requires_keys(
    tmp_path: Path, seeded: tuple[Path, Path], client: TestClient[Any, Any]
) -> None:
    assert 'name="key"' not in await get_page(client, "/sessions")
    html = await get_page(client, "/sessions?team=research&limit=1")
    assert 'name="team" value="research"' in html  # a filter from the URL stays in the form
    assert 'name="key"' in html
    db, jsonl = seeded
    config = config_from_mapping(
        {
            "auth": {"mode": "keys", "database": str(tmp_path / "keys.db")},
            "session_recording": {"enabled": True, "sqlite": {"path": str(db)}, "jsonl": {"directory": str(jsonl)}},
        },
        env={},
    )
    async with TestClient(TestServer(build_ui_app(config))) as keyed:
        html = await get_page(keyed, "/sessions")
        assert 'name="key"' in html
        assert 'name="team"' in html
