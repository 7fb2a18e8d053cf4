"""Hostile content in every recorded field and every query parameter, rendered by every page: nothing is emitted
unescaped, and each field does reach some page (escaped), so the check is not passed by leaving fields out."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer
from tests.recording.query.conftest import flat_price

from lunaroute.recording.events import (
    Completed,
    RequestRecorded,
    ResponseRecorded,
    SessionEvent,
    Started,
    StatsUpdated,
    ToolCallRecorded,
    ToolStats,
    ToolUsageSummary,
)
from lunaroute.recording.jsonl import JsonlWriter
from lunaroute.recording.query import SqliteSessionStore
from lunaroute.recording.sqlite import SqliteWriter
from lunaroute.ui import create_api_app
from lunaroute.ui.pages import add_pages
from lunaroute.ui.pages._conversation import Other, Text, Thinking, ToolCall, ToolResult, Turn
from lunaroute.ui.pages._parts import render_parts, render_turn, text_block

SIDS = [f"sess-hostile-{n}" for n in range(4)]
"""One session per request, so each request is the first of its session and shows all its messages."""
UNESCAPED = re.compile(r"<\s*/?\s*x-", re.IGNORECASE)
"""Any hostile tag that reached the page as markup."""


def evil(name: str) -> str:
    """A payload that is markup unless escaped, breaks out of a quoted attribute, and names its field."""
    return f"\"'><x-{name}>&amp;</x-{name}>"


def escaped(name: str) -> str:
    return f"&lt;x-{name}&gt;"


LONG = "a" * 3_200  # past the 3,000 characters shown before a text folds


def _request_json() -> dict[str, Any]:
    return {
        "model": evil("req-model"),
        "system": [{"type": "text", "text": evil("system")}],
        "tools": [{"name": evil("tool-offered"), "input_schema": {}}, {"type": evil("tool-type")}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": evil("user-text")},
                    {"type": "text", "text": LONG + evil("user-folded-tail")},
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/" + evil("image-url")}},
                    {"type": "document", "title": evil("doc-title"), "source": {"type": "base64", "data": ""}},
                    {"type": "image_url", "image_url": {"url": "https://x.test/" + evil("chat-image-url")}},
                    {"type": "file", "file": {"filename": evil("file-name")}},
                    {"type": evil("unknown-kind"), "payload": evil("unknown-detail")},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": evil("req-thinking") + LONG + evil("thinking-tail")},
                    {
                        "type": "tool_use",
                        "id": evil("call-id"),
                        "name": evil("tool-call-name"),
                        "input": {"k": evil("tool-input")},
                    },
                    {
                        "type": "server_tool_use",
                        "id": "srv_1",
                        "name": evil("server-tool-name"),
                        "input": evil("raw-input"),
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": evil("call-id"),
                        "content": [{"type": "text", "text": evil("tool-result")}, {"type": evil("result-part")}],
                        "is_error": True,
                    },
                    {"type": "tool_result", "tool_use_id": "other", "content": LONG + evil("result-tail")},
                ],
            },
            {"role": evil("role"), "content": evil("odd-role-text")},
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": evil("reasoning-content"),
                "refusal": evil("chat-refusal"),
                "tool_calls": [
                    {"id": "c2", "type": "function", "function": {"name": evil("chat-call-name"), "arguments": "{"}},
                    {
                        "id": "c3",
                        "type": "custom",
                        "custom": {"name": evil("custom-call-name"), "input": evil("custom-in")},
                    },
                ],
                "function_call": {"name": evil("function-call-name"), "arguments": evil("function-args")},
            },
            {"role": "tool", "tool_call_id": "c2", "content": evil("chat-tool-result")},
            {"role": "user", "content": evil("last-user-text")},
        ],
    }


def _responses_request() -> dict[str, Any]:
    return {
        "model": "gpt-5",
        "instructions": evil("instructions"),
        "tools": [{"type": "function", "function": {"name": evil("fn-offered")}}],
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": evil("input-text")}]},
            {"type": "function_call", "call_id": evil("fc-id"), "name": evil("fc-name"), "arguments": evil("fc-args")},
            {"type": "function_call_output", "call_id": evil("fc-id"), "output": evil("fc-output")},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": evil("reasoning-summary")}]},
            {"type": evil("item-kind"), "value": evil("item-detail")},
        ],
    }


def _answers() -> list[dict[str, Any]]:
    anthropic = {
        "model": evil("answer-model"),
        "content": [
            {"type": "text", "text": evil("answer-text")},
            {"type": "text", "text": LONG + evil("answer-folded-tail")},
            {"type": "thinking", "thinking": evil("answer-thinking")},
            {"type": "refusal", "refusal": evil("answer-refusal")},
            {"type": "tool_use", "id": evil("answer-call-id"), "name": evil("answer-tool-name"), "input": {}},
            {"type": evil("answer-unknown-kind"), "x": evil("answer-unknown-detail")},
        ],
    }
    chat = {
        "choices": [
            {"message": {"role": "assistant", "content": evil("chat-answer"), "refusal": evil("chat-answer-refusal")}}
        ]
    }
    responses = {
        "output": [
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": evil("output-text")}]},
            {"type": "custom_tool_call", "call_id": "ct", "name": evil("custom-tool-name"), "input": evil("ct-input")},
        ]
    }
    error = {"error": {"message": evil("upstream-error-message")}}
    return [anthropic, chat, responses, error]


def _session(now: dt.datetime) -> list[SessionEvent]:
    requests: list[Any] = [_request_json(), _responses_request(), _request_json(), evil("not-an-object")]
    events: list[SessionEvent] = []
    for n, (body, answer) in enumerate(zip(requests, _answers(), strict=True)):
        sid, rid = SIDS[n], f"r{n}" + evil(f"request-id-{n}")
        at = now - dt.timedelta(minutes=30 - n)
        ms = dt.timedelta(milliseconds=1)
        events += [
            Started(
                session_id=sid,
                request_id=rid,
                timestamp=at,
                model_requested=evil("model-requested"),
                provider=evil("provider"),
                listener=evil("listener"),
                user_agent=evil("user-agent"),
                session_tags=[evil("tag")],
                client_ip=evil("client-ip"),
                request_headers={"x-h": evil("header")},
            ),
            RequestRecorded(
                session_id=sid,
                request_id=rid,
                timestamp=at + ms,
                request_text=evil("request-text"),
                request_json=body,
            ),
            ResponseRecorded(
                session_id=sid,
                request_id=rid,
                timestamp=at + 2 * ms,
                response_text=evil("response-text"),
                response_json=answer,
                model_used=evil("model-used"),
                input_tokens=10,
                output_tokens=5,
                total_tokens=15,
            ),
            ToolCallRecorded(
                session_id=sid,
                request_id=rid,
                timestamp=at + 3 * ms,
                tool_name=evil("recorded-tool"),
                tool_call_id=evil("recorded-call-id"),
                tool_arguments=evil("recorded-arguments"),
            ),
            Completed(
                session_id=sid,
                request_id=rid,
                timestamp=at + 4 * ms,
                success=n != 3,
                error=evil("completed-error") if n == 3 else None,
                finish_reason=evil("finish-reason"),
                total_duration_ms=100,
                total_tool_calls=1,
                by_tool={evil("by-tool"): ToolStats(call_count=1)},
            ),
            StatsUpdated(
                session_id=sid,
                request_id=rid,
                timestamp=at + 5 * ms,
                model_used=evil("stats-model"),
                tool_call_updates=ToolUsageSummary(
                    total_tool_calls=1, by_tool={evil("stats-tool"): ToolStats(call_count=1)}
                ),
            ),
        ]
    return events


MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def make_client(tmp_path: Path) -> AsyncIterator[MakeClient]:
    db, jsonl = tmp_path / "sessions.db", tmp_path / "sessions"
    events = _session(dt.datetime.now(dt.UTC))
    writer = await SqliteWriter.open(db)
    try:
        await writer.write_batch(events)
    finally:
        await writer.close()
    jw = JsonlWriter(jsonl)
    try:
        await jw.write_batch(events)
    finally:
        await jw.close()
    opened: list[tuple[TestClient[Any, Any], SqliteSessionStore]] = []

    async def factory(*, jsonl_events: bool = True, token: str | None = None) -> TestClient[Any, Any]:
        store = SqliteSessionStore(db, price=flat_price)
        folder = jsonl if jsonl_events else None
        app = create_api_app(store, jsonl_dir=folder, export_enabled=True, delete_enabled=True, auth_token=token)
        add_pages(
            app,
            store,
            jsonl_dir=folder,
            export_enabled=True,
            delete_enabled=True,
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


async def _pages(client: TestClient[Any, Any], paths: list[str]) -> dict[str, str]:
    out = {}
    for path in paths:
        response = await client.get(path)
        assert response.content_type == "text/html", path
        out[path] = await response.text()
    return out


def _query(**params: str) -> str:
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())


async def test_every_page_escapes_every_field(make_client: MakeClient) -> None:
    client = await make_client()
    filters = {k: evil(f"param-{k}") for k in ("model", "provider", "user_agent", "q", "until", "min_tokens")}
    paths = [
        "/",
        "/?" + _query(window=evil("window")),
        "/sessions",
        "/sessions?" + _query(user_agent=evil("user-agent")),
        "/sessions?" + _query(**filters),
        "/sessions?" + _query(since=evil("param-since")),
        "/sessions?" + _query(success=evil("param-success"), deleted=evil("deleted")),
        "/sessions?" + _query(limit=evil("param-limit"), offset=evil("param-offset")),
        *(f"/sessions/{sid}" for sid in SIDS),
        f"/sessions/{SIDS[0]}?" + _query(page=evil("page")),
        "/sessions/" + quote(evil("sid"), safe=""),
        "/no/such/" + quote(evil("path"), safe=""),
    ]
    pages = await _pages(client, paths)
    fallback = await _pages(await make_client(jsonl_events=False), [f"/sessions/{sid}" for sid in SIDS])
    gated = await _pages(
        await make_client(token="s3cret"),
        [
            f"/sessions/{SIDS[0]}?" + _query(token="wrong", model=evil("gate-param")),
            "/sessions?" + _query(q=evil("gate-q")),
        ],
    )
    every = {
        **pages,
        **{"fallback " + k: v for k, v in fallback.items()},
        **{"gated " + k: v for k, v in gated.items()},
    }
    for path, html in every.items():
        found = UNESCAPED.search(html)
        assert found is None, f"{path}: unescaped at {html[max(0, found.start() - 200) : found.end() + 80]!r}"
    shown = "\n".join(every.values())
    expected = [
        # The session row and the facts of the detail page.
        "model-used", "provider", "listener", "user-agent", "by-tool", "completed-error",
        # The conversation of an Anthropic request and answer.
        "system", "tool-offered", "user-text", "user-folded-tail", "image-url", "doc-title", "chat-image-url",
        "file-name", "unknown-kind", "unknown-detail", "req-thinking", "thinking-tail", "tool-call-name", "call-id",
        "tool-input", "server-tool-name", "raw-input", "tool-result", "result-part", "result-tail", "role",
        "odd-role-text", "reasoning-content", "chat-refusal", "chat-call-name", "custom-call-name", "custom-in",
        "function-call-name", "function-args", "chat-tool-result", "last-user-text",
        "answer-text", "answer-folded-tail", "answer-thinking", "answer-refusal", "answer-tool-name", "answer-call-id",
        "answer-unknown-kind", "answer-unknown-detail", "chat-answer", "chat-answer-refusal", "output-text",
        "custom-tool-name", "ct-input", "upstream-error-message", "finish-reason",
        # A Responses API request.
        "instructions", "fn-offered", "input-text", "fc-id", "fc-name", "fc-args", "fc-output", "reasoning-summary",
        "item-kind", "item-detail", "not-an-object",
        # Query parameters echoed by the list page and the sign-in page.
        "param-model", "param-provider", "param-user_agent", "param-q", "param-until", "param-since", "gate-param",
        # Stored texts, shown when the session's events are not available.
        "request-text", "response-text",
    ]  # fmt: skip
    missing = [name for name in expected if escaped(name) not in shown]
    assert not missing, f"fields never shown: {missing}"


@pytest.mark.parametrize(
    "part",
    [
        Text(LONG + evil("tail")),
        Text(LONG + evil("tail"), refusal=True),
        Thinking(evil("tail") + LONG + evil("tail")),
        ToolCall(evil("tail"), evil("tail"), LONG + evil("tail")),
        ToolResult(evil("tail"), LONG + evil("tail"), is_error=True),
        Other(evil("tail"), evil("tail")),
    ],
)
def test_each_part_escapes_every_field(part: Text | Thinking | ToolCall | ToolResult | Other) -> None:
    html = render_turn(Turn(evil("tail"), (part,)), {evil("tail"): evil("tail")})
    assert UNESCAPED.search(html) is None, html[-400:]
    assert escaped("tail") in html
    assert UNESCAPED.search(render_parts((part,), {})) is None


@pytest.mark.parametrize("length", [10, 3_001, 100_001])
def test_text_blocks_escape_the_shown_text_the_folded_tail_and_the_cut(length: int) -> None:
    text = evil("head") + "b" * length + evil("tail")
    html = text_block(text)
    assert UNESCAPED.search(html) is None
    assert escaped("head") in html
    assert (escaped("tail") in html) == (len(text) <= 100_000)
